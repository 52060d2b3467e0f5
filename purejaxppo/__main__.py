"""``python -m purejaxppo``: the same as the ``purejaxppo`` command."""

from purejaxppo.cli import main

if __name__ == "__main__":
    main()
