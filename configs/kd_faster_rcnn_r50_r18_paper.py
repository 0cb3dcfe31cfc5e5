# The paper's method exactly (Chen et al. 2017): kd_faster_rcnn_r50_r18.py with the
# kd_chen2017_paper block (the teacher bound in both heads, the hint through a 1x1 adaptation
# layer, nothing inherited). docs/method.md compares it with mmkd's defaults.
#   tools/dist_train.sh configs/kd_faster_rcnn_r50_r18_paper.py 8
_base_ = './kd_faster_rcnn_r50_r18.py'

model = dict(**_base_.kd_chen2017_paper)
