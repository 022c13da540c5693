"""``python -m minilib.experiments FAMILY [options]``: remake the stored reference runs of one family.

FAMILY is a module of ``minilib.experiments`` that has a ``main(argv)`` (e.g. ``lm``);
``python -m minilib.experiments lm --help`` lists its options.
"""
import importlib
import sys

FAMILIES = ("lm", "masking_strategies", "stability", "roberta",)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in FAMILIES:
        sys.exit(f"usage: python -m minilib.experiments {{{','.join(FAMILIES)}}} [options]")
    importlib.import_module(f"minilib.experiments.{argv[0]}").main(argv[1:])


if __name__ == "__main__":
    main()
