from .kd_two_stage import KnowledgeDistillationTwoStageDetector

__all__ = ['KnowledgeDistillationTwoStageDetector']
