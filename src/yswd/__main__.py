"""``python -m yswd``: the same command line as ``yswd``."""

from yswd.cli.main import main

main()
