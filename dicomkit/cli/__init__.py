"""The ``dicomkit`` command line: one command, a subcommand per task, thin over the library."""
