"""``python -m yswd.cli``: the same command line as ``yswd``."""

from yswd.cli.main import main

main()
