"""``python -m minilib.seglab --scale cpu --seeds 0 1 2``: remake the stored segmentation reference runs."""
from .runs import main

if __name__ == "__main__":
    main()
