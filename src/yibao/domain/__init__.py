"""Pure business rules: no I/O, no framework, no database, no clock (time is passed in)."""
