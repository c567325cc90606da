"""Convert a torchvision ViT and compare minidl's logits with torch's.

    python examples/check_vit_conversion.py --arch vit_b_16 --images 4

No pretrained weights are downloaded: torchvision's model is built with
its own random initialisation, and its head (which torchvision starts at
zero, so every logit would be 0) is redrawn from N(0, 0.02^2). Its
state_dict is saved with torch.save into a temporary folder, converted
with ``minidl.convert.from_torch`` (the architecture guessed from the
keys), loaded with ``minidl.models.load_pretrained`` and both models run,
in eval mode and float32, on the same random images. The last line gives
the largest logit difference, next to the largest logit. Needs torch and
torchvision.
"""
import argparse
import os
import tempfile
import time

import numpy as np

import minidl
from minidl import convert, models


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vit_b_16",
                        choices=["vit_b_16", "vit_b_32", "vit_l_16"])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch
    import torchvision
    torch.manual_seed(args.seed)
    reference = getattr(torchvision.models, args.arch)().eval()
    with torch.no_grad():
        reference.heads.head.weight.normal_(0, 0.02)
        reference.heads.head.bias.normal_(0, 0.02)
    images = np.random.default_rng(args.seed).standard_normal(
        (args.images, 3, 224, 224)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, f"{args.arch}-random.pth")
        target = os.path.join(folder, f"{args.arch}.npz")
        torch.save(reference.state_dict(), source)
        start = time.perf_counter()
        metadata = convert.from_torch(source, target)
        print(f"converted {metadata['source_file']} as "
              f"{metadata['architecture']} in {time.perf_counter() - start:.1f} s")
        model = models.load_pretrained(target)
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        expected = reference(torch.from_numpy(images)).numpy()
    torch_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with minidl.no_grad():
        logits = model(minidl.tensor(images)).numpy()
    minidl_seconds = time.perf_counter() - start
    difference = float(np.abs(logits - expected).max())
    same = int((logits.argmax(1) == expected.argmax(1)).sum())
    print(f"forward of {args.images} images at 224x224: torch "
          f"{torch_seconds:.1f} s, minidl {minidl_seconds:.1f} s")
    print(f"{args.arch}: largest logit difference {difference:.2e} (largest "
          f"logit {np.abs(expected).max():.2f}); {same}/{args.images} top-1 "
          f"predictions agree")


if __name__ == "__main__":
    main()
