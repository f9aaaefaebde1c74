"""Cross-inspection rounds (交叉检查, DOMAIN.md §4): pure rules, no database."""
from engine.inspection.assignment import (AssignmentRejected, assignment_problems, propose_assignment,
                                          validate_assignment)

__all__ = ["AssignmentRejected", "assignment_problems", "propose_assignment", "validate_assignment"]
