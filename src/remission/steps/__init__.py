"""Pipeline steps: adapters that read a case's assay files and call one engine each.

Every module here is imported by :func:`remission.pipeline.registered_steps`; a module
registers its step with :func:`remission.pipeline.step`. Modules starting with ``_`` are skipped.
"""
