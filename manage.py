#!/usr/bin/env python
"""Same as the `fangkong` console script."""

from fangkong.cli import main

if __name__ == "__main__":
    main()
