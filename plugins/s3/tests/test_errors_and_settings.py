"""Bad input is a clear error before anything moves; client settings (params and the
standard AWS environment) are honoured; credentials never show in errors, logs or reports."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from lakeroutine.errors import RoutineError
from lakeroutine.testing import FAKE_AWS_ENV

SECRETS = [FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"], FAKE_AWS_ENV["AWS_SESSION_TOKEN"]]
WRITES = ("CopyObject", "PutObject", "DeleteObjects", "UploadPart", "CreateMultipartUpload")


def s3_routine(routine, **params):
    return routine(
        **{
            "parent_directory": "s3://lake/landing/",
            "dump_directory": "s3://lake/staging/",
            **params,
        }
    )


def assert_nothing_written(counting) -> None:
    ops = counting.operations()
    assert not any(ops[op] for op in WRITES), ops


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real retries without botocore's back-off sleeps (a botocore function, not ours)."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


# -- the plugin ------------------------------------------------------------------------------


def test_without_the_plugin_an_s3_url_names_the_package(tmp_path):
    from lakeroutine.plugins import load_plugins
    from lakeroutine.routine import validate_routine

    routine = {
        "routine_name": "r",
        "executors": {
            "StagingExecutor": {
                "params": {
                    "parent_directory": "s3://lake/landing/",
                    "dump_directory": str(tmp_path / "staging"),
                },
                "tasks": ["transfer"],
            }
        },
    }
    with pytest.raises(RoutineError) as caught:
        validate_routine(routine, registry=load_plugins(entry_points=False))
    assert "pip install ./plugins/s3 (from a clone" in str(caught.value)
    assert "parent_directory" in str(caught.value)
    # With the plugin the same routine is valid.
    validate_routine(routine, registry=load_plugins())


def test_validating_an_s3_routine_does_not_import_boto3(tmp_path):
    routine = tmp_path / "r.json"
    routine.write_text(
        json.dumps(
            {
                "routine_name": "r",
                "executors": {
                    "StagingExecutor": {
                        "params": {
                            "parent_directory": "s3://lake/landing/",
                            "dump_directory": "s3://lake/staging/",
                        },
                        "tasks": ["transfer", "post_staging"],
                    }
                },
            }
        )
    )
    code = (
        "import sys\n"
        "from lakeroutine.cli import main\n"
        f"status = main(['validate', {str(routine)!r}, '--offline'])\n"
        "assert status == 0, status\n"
        "loaded = [m for m in ('boto3', 'botocore', 's3transfer') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- bad input ---------------------------------------------------------------------------------


def test_a_url_without_bucket_is_a_validation_error(bucket, routine, run, proxy):
    counting = proxy()
    with pytest.raises(RoutineError, match="no bucket name") as caught:
        run(s3_routine(routine, dump_directory="s3:///staging/", endpoint_url=counting.url))
    assert "params.dump_directory" in str(caught.value)
    assert counting.count() == 0  # found while validating: nothing sent


@pytest.mark.parametrize("which", ["parent_directory", "dump_directory", "archive_directory"])
def test_a_missing_bucket_is_an_error_before_anything_moves(bucket, routine, run, proxy, which):
    bucket.put("landing/a.csv", "a")
    counting = proxy()
    with pytest.raises(RoutineError) as caught:
        run(s3_routine(routine, endpoint_url=counting.url, **{which: "s3://nope/x/"}))
    assert "bucket 'nope' does not exist" in str(caught.value)
    assert which in str(caught.value)
    assert_nothing_written(counting)
    assert bucket.objects() == {"landing/a.csv": b"a"}


def test_no_credentials_is_an_error_before_anything_moves(bucket, routine, run, monkeypatch):
    bucket.put("landing/a.csv", "a")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    with pytest.raises(RoutineError, match="no AWS credentials found") as caught:
        run(s3_routine(routine))
    assert "parent_directory" in str(caught.value)
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    assert bucket.objects() == {"landing/a.csv": b"a"}


@pytest.fixture
def iam_user(moto_endpoint: str) -> Iterator[dict[str, str]]:
    """An IAM user allowed S3 on bucket 'other' only, with moto's auth switched on (the
    emulator checks signatures and policies) for the test."""
    import boto3
    from moto import settings
    from moto.core.responses import ActionAuthenticatorMixin

    iam = boto3.client("iam", endpoint_url=moto_endpoint)
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::other", "arn:aws:s3:::other/*"],
            }
        ],
    }
    iam.put_user_policy(UserName="reader", PolicyName="other", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


def use_credentials(monkeypatch: pytest.MonkeyPatch, key_id: str, secret: str) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.delenv("AWS_SESSION_TOKEN")


def test_access_denied_is_an_error_before_anything_moves(
    bucket, routine, run, iam_user, monkeypatch, caplog
):
    bucket.fill(["landing/a.csv"], b"a")  # straight into the emulator
    use_credentials(monkeypatch, iam_user["id"], iam_user["secret"])
    caplog.set_level(logging.DEBUG, logger="lakeroutine")
    with pytest.raises(RoutineError, match="access denied to s3://lake") as caught:
        run(s3_routine(routine))
    assert "parent_directory" in str(caught.value)
    assert iam_user["secret"] not in str(caught.value) + caplog.text


def test_refused_credentials_are_named_without_quoting_them(
    bucket, routine, run, iam_user, monkeypatch, caplog
):
    wrong_secret = "wrong-secret-value-" + iam_user["secret"][:8]
    use_credentials(monkeypatch, iam_user["id"], wrong_secret)
    caplog.set_level(logging.DEBUG, logger="lakeroutine")
    with pytest.raises(RoutineError, match="credentials were refused") as caught:
        run(s3_routine(routine, dump_directory="s3://other/staging/"))
    text = str(caught.value) + caplog.text
    assert wrong_secret not in text and iam_user["secret"] not in text


def test_credentials_never_appear_in_logs_errors_or_reports(bucket, routine, run, tmp_path, caplog):
    """A run with a failing task, logged at DEBUG: the secret key and session token appear
    nowhere in the log, the task errors or the JSON report."""
    script = tmp_path / "leaky.py"
    script.write_text(
        "import os\n"
        "def leaky(source, target):\n"
        "    raise RuntimeError('cannot parse ' + os.path.basename(source))\n"
    )
    bucket.put("landing/a.csv", "a")
    caplog.set_level(logging.DEBUG)
    result = run(s3_routine(routine, py_exec_path=f"{script}:leaky"))
    assert result.status == "failed"
    report = json.dumps(result.to_dict())
    assert "cannot parse a.csv" in report
    for secret in SECRETS:
        assert secret not in report and secret not in caplog.text


def test_an_unknown_storage_option_is_a_clear_error(bucket, routine, run, proxy):
    counting = proxy()
    with pytest.raises(RoutineError, match="multipart_treshold"):
        run(
            s3_routine(
                routine,
                endpoint_url=counting.url,
                storage_options={"multipart_treshold": 10},
            )
        )
    assert counting.count() == 0


# -- client settings -----------------------------------------------------------------------------


def test_the_endpoint_url_param_wins_over_the_environment(bucket, routine, run, proxy, monkeypatch):
    bucket.put("landing/a.csv", "a")
    from_env, from_param = proxy(), proxy()
    monkeypatch.setenv("AWS_ENDPOINT_URL", from_env.url)
    result = run(s3_routine(routine, endpoint_url=from_param.url))
    assert result.status == "succeeded"
    assert from_env.count() == 0 and from_param.count("CopyObject") == 2  # staging + archive


def test_aws_endpoint_url_alone_is_honoured(bucket, routine, run, proxy, monkeypatch):
    bucket.put("landing/a.csv", "a")
    counting = proxy()
    monkeypatch.setenv("AWS_ENDPOINT_URL", counting.url)
    assert run(s3_routine(routine)).status == "succeeded"
    assert counting.count("CopyObject") == 2  # staging + archive


@pytest.fixture
def profile_files(tmp_path, monkeypatch) -> None:
    """A credentials file with profile 'lake' and no credentials in the environment."""
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[lake]\naws_access_key_id = profile-key\naws_secret_access_key = profile-secret-value\n"
    )
    config = tmp_path / "config"
    config.write_text("[profile lake]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION"):  # else they win over the profile's
        monkeypatch.delenv(key)


def test_profile_name_param(bucket, routine, run, profile_files):
    bucket.fill(["landing/a.csv"], b"a")
    result = run(s3_routine(routine, profile_name="lake"))
    assert result.status == "succeeded", result.tasks
    assert bucket.objects("staging/") == {"a.csv": b"a"}


def test_aws_profile_environment(bucket, routine, run, profile_files, monkeypatch):
    bucket.fill(["landing/a.csv"], b"a")
    with pytest.raises(RoutineError, match="no AWS credentials"):
        run(s3_routine(routine))
    monkeypatch.setenv("AWS_PROFILE", "lake")
    assert run(s3_routine(routine)).status == "succeeded"


def test_an_unknown_profile_is_a_clear_error(bucket, routine, run, profile_files):
    with pytest.raises(RoutineError, match="nope") as caught:
        run(s3_routine(routine, profile_name="nope"))
    assert "profile" in str(caught.value)


def test_region_from_param_profile_and_environment(moto_endpoint, profile_files, monkeypatch):
    from lakeroutine_s3.storage import S3Storage

    assert S3Storage(region_name="ap-south-1").client.meta.region_name == "ap-south-1"
    assert S3Storage(profile_name="lake").client.meta.region_name == "eu-west-3"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    assert S3Storage().client.meta.region_name == "sa-east-1"


@pytest.mark.parametrize(
    ("env", "options", "attempts"),
    [
        ({"AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "2"}, {}, 2),
        ({"AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "2"}, {"max_attempts": 4}, 4),
        ({}, {"retry_mode": "standard", "max_attempts": 3}, 3),
    ],
)
def test_retry_settings_from_the_environment_and_options(
    bucket, proxy, monkeypatch, no_backoff, env, options, attempts
):
    """Every request fails with 500: the number that reach the proxy is the attempts."""
    from lakeroutine.storage.base import StorageError
    from lakeroutine_s3.storage import S3Storage

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    failing = proxy(fault_rate=1.0, faults=("internal",))
    storage = S3Storage(endpoint_url=failing.url, **options)
    with pytest.raises(StorageError, match="Internal Server Error"):
        storage.check_location("s3://lake/landing/", write=True)
    assert failing.count("HeadBucket") == attempts


def test_an_s3a_url_without_bucket_is_an_error_before_anything_moves(bucket, routine, run):
    bucket.put("landing/a.csv", "a")
    with pytest.raises(RoutineError, match="no bucket name"):
        run(s3_routine(routine, parent_directory="s3a:///landing/"))
    assert bucket.objects() == {"landing/a.csv": b"a"}
