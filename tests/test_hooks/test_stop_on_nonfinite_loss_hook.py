"""StopOnNonFiniteLossHook: stops at the first NaN/inf loss, names the term and the iteration,
and leaves the last good checkpoint as the last one on disk."""
import os
import os.path as osp

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import mmkd  # noqa: F401  (registers the hook)


class ToyModel(BaseModel):
    """loss_toy = mean((w x + b)^2): NaN or inf when an input is."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        return dict(loss_toy=(out**2).mean(), loss_weight=self.linear.weight.abs().sum())


def toy_runner(work_dir: str, inputs: list, by_epoch: bool = False) -> Runner:
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        experiment_name=osp.basename(work_dir),
        train_dataloader=dict(
            dataset=[dict(inputs=torch.tensor([x])) for x in inputs],
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=by_epoch, max_epochs=1) if by_epoch else dict(
            by_epoch=False, max_iters=len(inputs)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=by_epoch, interval=1)),
        custom_hooks=[dict(type='StopOnNonFiniteLossHook')],
        log_processor=dict(by_epoch=by_epoch),
        default_scope='mmdet')


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_stops_at_the_bad_iteration_keeping_the_last_good_checkpoint(bad, tmp_path):
    work_dir = str(tmp_path / str(bad))
    inputs = [1.0, 2.0, 3.0, 4.0, bad, 5.0, 6.0]
    with pytest.raises(FloatingPointError) as err:
        toy_runner(work_dir, inputs).train()
    last = osp.join(work_dir, 'iter_4.pth')
    assert str(err.value).startswith(
        f'loss_toy is {bad} at iteration 5; training stopped without saving this state: '
        f'the last good checkpoint is {last}, resume from it with --resume. '
        f'Losses: loss={bad}, loss_toy={bad}, loss_weight=0.')
    assert sorted(f for f in os.listdir(work_dir) if f.endswith('.pth')) == [
        f'iter_{i}.pth' for i in range(1, 5)
    ]
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read() == last
    weights = torch.load(last)['state_dict']
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_the_broken_state_is_in_memory_only(tmp_path):
    """The optimizer step of the bad iteration has run: what is in memory must not be saved."""
    runner = toy_runner(str(tmp_path), [1.0, float('nan')])
    with pytest.raises(FloatingPointError, match='iteration 2'):
        runner.train()
    assert torch.isnan(runner.model.linear.weight).all()
    saved = torch.load(str(tmp_path / 'iter_1.pth'))['state_dict']['linear.weight']
    assert torch.isfinite(saved).all()
    assert not osp.exists(tmp_path / 'iter_2.pth')


def test_epoch_based_run_without_checkpoint_says_so(tmp_path):
    with pytest.raises(FloatingPointError,
                       match=r'loss_toy is nan at iteration 2 \(epoch 1\); training stopped '
                       'without saving this state: no checkpoint was saved before it'):
        toy_runner(str(tmp_path), [1.0, float('nan'), 2.0], by_epoch=True).train()
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.pth')]


def test_finite_losses_train_to_the_end(tmp_path):
    runner = toy_runner(str(tmp_path), [1.0, 2.0, 3.0])
    runner.train()
    assert runner.iter == 3
    assert osp.exists(tmp_path / 'iter_3.pth')
