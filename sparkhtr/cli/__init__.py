"""The `sparkhtr` command line: thin commands over the library."""
