"""Allow ``python -m gentools``."""

from gentools.cli import main

if __name__ == "__main__":
    main()
