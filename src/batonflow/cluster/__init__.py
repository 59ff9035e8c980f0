"""Celery execution (`BATONFLOW_EXECUTOR=celery`): steps routed to named queues, a broker that
wakes `batonflow worker --queues ...` processes, the database still the only record."""
