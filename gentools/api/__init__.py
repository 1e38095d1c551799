"""The public API behind the commands: one function per command, same names and values (SPEC §7)."""
