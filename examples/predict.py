"""The five most probable classes of image files, with their probabilities.

    python examples/predict.py runs/demo/model.npz cat.jpg dog.png
    python examples/predict.py runs/demo/best.npz *.jpg --top 3 --json

The model file is a fine-tuning checkpoint (``best.npz``, ``last.npz``),
the ``model.npz`` of a run, or a converted weights file; its metadata gives
the architecture, the class names, the input normalisation and the image
size the images are resized to (see ``minidl.training.inference``).
"""
import argparse
import json
import sys

import numpy as np

from minidl.training.inference import (choose_device, load_model, read_image,
                                       top_k)


def predict_files(model_path, files, top=5, device="auto"):
    """[(file, [(class name, probability), ...]), ...], most probable first."""
    loaded = load_model(model_path, choose_device(device))
    if loaded.image_size is None:
        raise ValueError("{}: its metadata gives no image size; convert or "
                         "fine-tune it with minidl".format(model_path))
    results = []
    for file in files:  # one at a time: files may be large photographs
        image = read_image(file, loaded.image_size)
        results.append((file, top_k(loaded, image[np.newaxis], top)[0]))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a checkpoint or weights .npz")
    parser.add_argument("images", nargs="+", help="image files (JPEG, PNG, ...)")
    parser.add_argument("--top", type=int, default=5,
                        help="how many classes to list (default 5)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per image instead")
    args = parser.parse_args(argv)
    try:
        results = predict_files(args.model, args.images, args.top, args.device)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    for file, ranking in results:
        if args.json:
            print(json.dumps({"file": file, "top": [
                {"class": name, "probability": p} for name, p in ranking]}))
            continue
        print(file)
        for name, probability in ranking:
            print("  {:7.2%}  {}".format(probability, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
