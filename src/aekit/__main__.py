"""`python -m aekit` (and `torchrun ... -m aekit`): the command line."""
from aekit.cli import main

if __name__ == "__main__":
    main()
