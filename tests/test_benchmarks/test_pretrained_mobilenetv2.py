"""The ImageNet MobileNetV2 conversion: torchvision 0.x ``features`` keys to mmdet's."""
import os.path as osp
import sys

import pytest
import torch
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import pretrained_mobilenetv2 as conv  # noqa: E402

# expand ratio, channels, blocks, stride: MobileNetV2's (and the wheel's) table
SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1)]


class Block(nn.Module):
    """An inverted residual in the flat layout (``conv.K``), as the wheel's network."""

    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hidden = inp * t
        layers = [] if t == 1 else [nn.Conv2d(inp, hidden, 1, bias=False),
                                    nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and inp == oup

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class FlatMobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        features, inp = [nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False),
                                       nn.BatchNorm2d(32), nn.ReLU6())], 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                features.append(Block(inp, c, s if i == 0 else 1, t))
                inp = c
        features.append(nn.Sequential(nn.Conv2d(inp, 1280, 1, bias=False),
                                      nn.BatchNorm2d(1280), nn.ReLU6()))
        self.features = nn.Sequential(*features)


def trained_like(seed=0) -> FlatMobileNetV2:
    """Random weights and batch-norm statistics away from their initial values."""
    torch.manual_seed(seed)
    net = FlatMobileNetV2()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.0)
    return net.eval()


def test_keys_map_block_by_block_onto_mmdets_layers():
    assert conv.convert_key('features.0.0.weight') == 'conv1.conv.weight'
    assert conv.convert_key('features.0.1.running_var') == 'conv1.bn.running_var'
    assert conv.convert_key('features.1.conv.0.weight') == 'layer1.0.depthwise_conv.conv.weight'
    assert conv.convert_key('features.1.conv.4.bias') == 'layer1.0.linear_conv.bn.bias'
    assert conv.convert_key('features.2.conv.0.weight') == 'layer2.0.expand_conv.conv.weight'
    assert conv.convert_key('features.4.conv.3.weight') == 'layer3.0.depthwise_conv.conv.weight'
    assert conv.convert_key('features.10.conv.7.weight') == 'layer4.3.linear_conv.bn.weight'
    assert conv.convert_key('features.17.conv.6.weight') == 'layer7.0.linear_conv.conv.weight'
    assert conv.convert_key('features.18.1.bias') == 'conv2.bn.bias'
    for bad in ('classifier.1.weight', 'features.19.0.weight', 'features.2.conv.2.weight'):
        with pytest.raises(KeyError):
            conv.convert_key(bad)


def test_converted_network_loads_strictly_and_computes_the_same_features():
    net = trained_like()
    converted = conv.convert_state_dict(net.state_dict())
    conv.check(converted, net)  # strict load, same output, trained statistics


def test_check_refuses_a_wrong_mapping_and_untrained_statistics():
    net = trained_like()
    converted = conv.convert_state_dict(net.state_dict())
    a, b = 'layer7.0.linear_conv.bn.weight', 'layer7.0.linear_conv.bn.bias'
    swapped = dict(converted, **{a: converted[b], b: converted[a]})  # same shapes
    with pytest.raises(ValueError, match="does not compute the wheel network's features"):
        conv.check(swapped, net)
    with pytest.raises(ValueError, match='batch-norm statistics at their initial values'):
        conv.check(conv.convert_state_dict(FlatMobileNetV2().state_dict()))
    with pytest.raises(RuntimeError, match='Missing key'):
        conv.check({k: v for k, v in converted.items() if not k.startswith('conv2')})
