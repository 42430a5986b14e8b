"""PIL's side of bench/image_decode_bench.cpp: torchvision's RandomResizedCrop(224) + flip and
Resize(256) + CenterCrop(224) done the way torchvision does them on a PIL image (open,
convert("RGB"), one bilinear resize of the crop box), per image on one thread, in ms.
Usage: python3 bench/image_decode_bench.py DIR REPEATS"""
import math
import os
import random
import statistics
import sys
import time

from PIL import Image

SIZE = 224


def random_box(width, height, rng):
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        w = int(round(math.sqrt(target * ratio)))
        h = int(round(math.sqrt(target / ratio)))
        if 0 < w <= width and 0 < h <= height:
            x = rng.randint(0, width - w)
            y = rng.randint(0, height - h)
            return (x, y, x + w, y + h)
    return (0, 0, width, height)


def ms_per_image(files, training, repeats):
    rng = random.Random(1)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for f in files:
            with Image.open(f) as im:
                im = im.convert("RGB")
                if training:
                    out = im.resize((SIZE, SIZE), Image.BILINEAR, box=random_box(im.width, im.height, rng))
                    if rng.random() < 0.5:
                        out = out.transpose(Image.FLIP_LEFT_RIGHT)
                else:
                    scale = 256 / min(im.width, im.height)
                    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR)
                    left = int(round((im.width - SIZE) / 2))
                    top = int(round((im.height - SIZE) / 2))
                    out = im.crop((left, top, left + SIZE, top + SIZE))
                out.tobytes()
        samples.append((time.perf_counter() - t0) * 1000 / len(files))
    return statistics.median(samples)


def main():
    folder, repeats = sys.argv[1], int(sys.argv[2])
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".jpg"))
    print("train_ms", ms_per_image(files, True, repeats))
    print("eval_ms", ms_per_image(files, False, repeats))


if __name__ == "__main__":
    main()
