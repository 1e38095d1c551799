"""Pure metric functions over arrays: no files, no printing, no CLI.

Each module states its formula, the paper, and the reference implementation
its tests compare against (see ../shared/METRICS.md).
"""
