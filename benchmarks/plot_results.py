"""Figure of the BCCD accuracy benchmark: test bbox mAP per variant, mean and spread over seeds.

Reads the ``accuracy`` section that ``benchmarks/bccd_accuracy.py`` writes into results.json:

    python benchmarks/plot_results.py                     # -> docs/accuracy.png
    python benchmarks/plot_results.py --results work_dirs/bccd_accuracy_quick/results.json \
        --out work_dirs/accuracy.png
"""
import argparse
import json
import os
import os.path as osp
from typing import Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_accuracy(path: str) -> dict:
    """The ``accuracy`` section of ``path``, with at least one variant."""
    if not osp.isfile(path):
        raise SystemExit(f"results file '{path}' not found: run benchmarks/bccd_accuracy.py")
    with open(path) as f:
        accuracy = json.load(f).get('accuracy')
    if not accuracy or not accuracy.get('variants'):
        raise SystemExit(f"'{path}' has no accuracy results: run benchmarks/bccd_accuracy.py")
    return accuracy


def plot(accuracy: dict, out: str) -> None:
    """mAP per variant: the mean with a bar of one standard deviation, every seed as a dot;
    dashed lines for the teacher and the student baseline."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = list(accuracy['variants'])
    variants = [accuracy['variants'][name] for name in names]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(names) + 2), 4.5))
    for x, (name, variant) in enumerate(zip(names, variants)):
        color = 'tab:blue' if name == 'baseline' else (
            'tab:green' if name == 'kd' else 'tab:gray')
        ax.errorbar(x, variant['map_mean'], yerr=variant['map_std'] or 0, fmt='o', ms=7,
                    capsize=5, color=color)
        ax.scatter([x] * len(variant['map']), variant['map'], s=12, color='k', alpha=0.5,
                   zorder=3)
    _hline(ax, accuracy.get('teacher_map'), 'tab:red', 'teacher')
    _hline(ax, accuracy.get('baseline_map_mean'), 'tab:blue', 'student baseline')
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha='right')
    ax.set_ylabel('BCCD test bbox mAP (%)')
    seeds = ' '.join(str(s) for s in accuracy.get('seeds', []))
    title = f"Distillation on BCCD, seeds {seeds}, {accuracy.get('device')}"
    ax.set_title(title, fontsize=9)
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches='tight')
    plt.close(fig)


def _hline(ax, value: Optional[float], color: str, label: str) -> None:
    if value is not None:
        ax.axhline(value, ls='--', lw=1, color=color, label=f'{label} {value:.1f}')


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--results', default=osp.join(ROOT, 'benchmarks', 'results.json'))
    parser.add_argument('--out', default=osp.join(ROOT, 'docs', 'accuracy.png'))
    args = parser.parse_args(argv)
    plot(load_accuracy(args.results), args.out)
    print(f'figure: {args.out}')


if __name__ == '__main__':
    main()
