"""Set-up calls the Rust harness makes on the local AWS peer (moto) with boto3,
for services whose Rust SDK crates the tests would otherwise have to compile
only for this (IAM, Lambda, SES v1).

Usage: moto_setup.py ENDPOINT lambda NAME      -> prints the function ARN
       moto_setup.py ENDPOINT delete-lambda NAME
       moto_setup.py ENDPOINT verify-email ADDRESS

moto's /moto-api/data.json fails (HTTP 500: it looks for Docker) while a Lambda
function exists, so the harness deletes the stand-in function once the state
machine has scheduled its task, and creates it again for the next execution.
"""
import io
import sys
import zipfile

import boto3

endpoint, command, argument = sys.argv[1], sys.argv[2], sys.argv[3]
session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def client(name):
    return session.client(name, endpoint_url=endpoint)


if command == "lambda":
    iam = client("iam")
    try:
        role = iam.get_role(RoleName=f"{argument}-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=f"{argument}-role",
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
        )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n# stands in for the Rust binary; moto does not run it\n")
    function = client("lambda").create_function(
        FunctionName=argument,
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": package.getvalue()},
    )
    print(function["FunctionArn"])
elif command == "delete-lambda":
    client("lambda").delete_function(FunctionName=argument)
elif command == "verify-email":
    client("ses").verify_email_identity(EmailAddress=argument)
    print(argument)
else:
    sys.exit(f"unknown command {command}")
