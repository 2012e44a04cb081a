"""Retry policies of the workflows' activities, one place for all of them."""

from datetime import timedelta

from temporalio.common import RetryPolicy

#: Email: 4xx replies and connection errors are retried with backoff for about a day;
#: after that the email counts as failed and is shown to a person.
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=60,
)
#: Database writes (projection, rows): quick retries, for as long as it takes.
DB_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30))
