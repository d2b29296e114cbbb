#!/usr/bin/env bash
# Prepares the optional test tiers (PostgreSQL, headless Chromium). Filled in by the store/CI work.
exit 0
