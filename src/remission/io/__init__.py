"""Readers and writers: the only code that knows file formats."""

from remission.io.casefile import case_inputs, load_case, parse_case

__all__ = ["case_inputs", "load_case", "parse_case"]
