"""`python -m tinyssl.cli`: the same command line as `tinyssl`."""

from tinyssl.cli import main

main()
