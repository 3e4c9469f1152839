"""``python -m yswd``: the same command line as ``yswd``."""

from yswd.adapters.cli import main

main()
