# Chen et al. 2017, "Learning Efficient Object Detection Models with Knowledge Distillation":
# the distillation block every mmkd config shares. A distillation config inherits this file
# beside its student and writes one line (mmengine refuses a key defined by two bases, so the
# block is a variable here, `model` there):
#   _base_ = ['<student config>', '<this file>']
#   model = dict(**_base_.kd_chen2017, teacher_config='...', teacher_ckpt='...')
# kd_chen2017 is mmkd's default, kd_chen2017_paper the paper's method exactly. Each constant,
# and why mmkd's defaults differ from the paper in three options: docs/method.md.
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

kd_chen2017 = dict(
    type='KnowledgeDistillationTwoStageDetector',
    eval_teacher=True,
    mu=0.5,  # the student's own classification losses
    loss_rpn_kd_cls=dict(
        type='KDSoftCrossEntropyLoss', use_sigmoid=True, T=1.0, bg_weight=1.5,
        loss_weight=0.5),  # 1 - mu
    loss_rpn_kd_bbox=dict(type='TeacherL2RegressionLoss', loss_weight=0.5),  # nu
    loss_kd_cls=dict(type='KDSoftCrossEntropyLoss', T=1.0, bg_weight=1.5, loss_weight=0.5),
    loss_kd_bbox=dict(type='TeacherL2RegressionLoss', loss_weight=0.5),  # nu
    loss_hint=dict(type='HintLoss', loss_type='l2', normalize=False, loss_weight=0.5),  # gamma
    hint_levels=None,  # every FPN level whose stride the teacher also has
    loss_hint_roi=None,  # mmkd's RoI hint, off: the paper's hint alone
    adapter='auto',  # the paper's 1x1 adapter where the necks differ in width, else none
    distill_rpn='auto',  # where the teacher has the student's anchors
    inherit_teacher='auto',  # heads start from the teacher's where they fit
    diagnostics=True)  # kd_* agreement values in the log (not losses)

# The paper's method: the teacher bound in both heads, the hint through a 1x1 adaptation
# layer, every student module from its own initialisation.
kd_chen2017_paper = dict(
    kd_chen2017,
    loss_rpn_kd_bbox=dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5),
    loss_kd_bbox=dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5),
    adapter=dict(_delete_=True, type='FeatureAdapter', kernel_size=1),  # replaces 'auto'
    inherit_teacher=())

# Before the first iteration, test the teacher on validation images and stop if it does not
# score clearly above chance; stop at the first NaN/inf loss, naming the term, before anything
# saves the broken weights; make --resume bit-exact (the random draws follow from seed, rank
# and iteration); record the teacher's config and checkpoint hash in every checkpoint.
# A config that sets custom_hooks replaces this list: list these again.
custom_hooks = [dict(type='TeacherCheckHook'), dict(type='StopOnNonFiniteLossHook'),
                dict(type='ExactResumeHook'), dict(type='TeacherProvenanceHook')]
