"""The learner service: learners, enrolments, employers, groups and the staff directory."""
