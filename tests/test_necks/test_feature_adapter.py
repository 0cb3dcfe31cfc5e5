import pytest
import torch

from mmkd.necks import FeatureAdapter


def test_maps_channels_per_level():
    adapter = FeatureAdapter(in_channels=[8, 16], out_channels=32, num_levels=2)
    outs = adapter([torch.rand(2, 8, 10, 12), torch.rand(2, 16, 5, 6)])
    assert [tuple(o.shape) for o in outs] == [(2, 32, 10, 12), (2, 32, 5, 6)]


def test_identity_weights_reproduce_input():
    adapter = FeatureAdapter(4, 4, num_levels=1)
    conv = adapter.convs[0]
    with torch.no_grad():
        conv.weight.copy_(torch.eye(4).view(4, 4, 1, 1))
        conv.bias.zero_()
    feat = torch.rand(1, 4, 5, 5)
    assert torch.allclose(adapter([feat])[0], feat)


def test_resizes_to_teacher_size_when_different():
    adapter = FeatureAdapter(4, 6, num_levels=2)
    outs = adapter([torch.rand(1, 4, 5, 5), torch.rand(1, 4, 3, 3)], [(10, 10), (3, 3)])
    assert [tuple(o.shape[-2:]) for o in outs] == [(10, 10), (3, 3)]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='in_channels has 3 entries for 2 levels'):
        FeatureAdapter([1, 2, 3], 4, num_levels=2)
    with pytest.raises(ValueError, match='has 2 levels, got 1'):
        FeatureAdapter(4, 4, num_levels=2)([torch.rand(1, 4, 2, 2)])
