"""`python -m tianfu` runs the CLI."""

from tianfu.cli.main import app

app()
