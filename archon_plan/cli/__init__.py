"""The command line: argparse, one function per verb, output, and the one place errors become exit codes."""

from .app import entry, main

__all__ = ["entry", "main"]
