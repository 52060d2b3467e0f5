"""The ``purejaxppo`` command and what it prints, draws and renders."""

from purejaxppo.cli.commands import main

__all__ = ["main"]
