"""Check that torch, mmcv (with compiled ops), mmengine and mmdet fit together.

Exits non-zero with a message that names what is wrong and how to fix it.
"""
import sys


def fail(msg: str) -> None:
    sys.exit(f'[mmkd env] {msg}')


def main() -> None:
    try:
        import torch
    except ImportError:
        fail('torch is missing: run tools/setup_env.sh, or install torch first '
             '(CPU: pip install torch==2.13.0; GPU: your CUDA build)')
    try:
        import mmcv
    except ImportError:
        fail('mmcv is missing: MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0')
    from mmengine.utils import digit_version
    if not (digit_version('2.0.0rc4') <= digit_version(mmcv.__version__) < digit_version('2.2.0')):
        fail(f'mmcv {mmcv.__version__} is installed, mmdet 3.3 needs 2.0.0rc4 <= mmcv < 2.2.0: '
             'pip install mmcv==2.1.0 (built with MMCV_WITH_OPS=1)')
    try:
        from mmcv.ops import nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
        keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)[1]
    except (ImportError, ModuleNotFoundError, RuntimeError) as e:
        fail(f'mmcv {mmcv.__version__} has no compiled ops ({e}); rebuild it with '
             'MMCV_WITH_OPS=1 pip install --no-build-isolation --no-cache-dir --force-reinstall '
             'mmcv==2.1.0')
    if keep.tolist() != [0]:
        fail(f'mmcv.ops.nms returned {keep.tolist()}, expected [0]: mmcv ops are broken')
    try:
        import mmdet
        import mmengine
    except ImportError as e:
        fail(f'{e.name} is missing: pip install -r requirements.txt')
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pkg_resources  # noqa: F401  (mmengine resolves mmdet:: configs through it)
    except ImportError:
        fail("pkg_resources is missing, so mmdet:: config names cannot resolve: "
             "pip install 'setuptools<70'")
    import mmkd
    print(f'[mmkd env] ok: torch {torch.__version__}, mmcv {mmcv.__version__} (ops), '
          f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, mmkd {mmkd.__version__}')


if __name__ == '__main__':
    main()
