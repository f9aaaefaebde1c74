"""What a person reads for the engine's codes (statuses, audit actions), in the current language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from engine.models.instance import INSTANCE_STATUSES
from engine.models.org import ROLES
from web.i18n import current_language

AUDIT_ACTIONS = {
    "start": _l("发起流程"),
    "complete": _l("完成任务"),
    "complete_instance": _l("流程结束"),
    "claim": _l("认领任务"),
    "unclaim": _l("退回任务"),
    "delegate": _l("转交任务"),
    "suspend": _l("挂起"),
    "resume": _l("恢复"),
    "terminate": _l("终止"),
    "retry": _l("重试"),
    "error": _l("出错"),
    "timer_fired": _l("定时器触发"),
    "launch_planned": _l("计划启动子流程"),
    "launch_done": _l("子流程已全部启动"),
    "launch_cancelled": _l("取消启动子流程"),
    "deploy": _l("部署"),
    "upload": _l("上传文件"),
    "audit_exported": _l("导出审计记录"),
    "instance_migrated": _l("迁移到新版本"),
}

TASK_STATUSES = {
    "open": _l("待处理"),
    "completed": _l("已完成"),
    "cancelled": _l("已取消"),
}


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if current_language().startswith("en") else pair[0]


def instance_status(code: str) -> str:
    return _pick(INSTANCE_STATUSES[code]) if code in INSTANCE_STATUSES else code


def audit_action(code: str) -> str:
    return str(AUDIT_ACTIONS.get(code, code))


def task_status(code: str) -> str:
    return str(TASK_STATUSES.get(code, code))


def role_name(code: str) -> str:
    return _pick(ROLES[code]) if code in ROLES else code
