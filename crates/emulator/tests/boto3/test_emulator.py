"""Drives every Souk emulator operation with boto3 (the Python SDK), as a seller's Python code
would: Metering, Entitlement (awsJson1_1), Catalog, Agreement, STS, SQS, S3 (data feeds) and SNS
notifications delivered to SQS.

Run against a running emulator:
    SOUK_EMULATOR_URL=http://127.0.0.1:4566 python3 -m pytest crates/emulator/tests/boto3
(`cargo test -p souk-emulator --test it boto3` spawns one and runs this file.)
"""

import datetime
import hashlib
import json
import os
import time
import urllib.request
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest

URL = os.environ.get("SOUK_EMULATOR_URL", "http://127.0.0.1:4566").rstrip("/")
SELLER = "111122223333"
BUYER = "210987654321"
CATALOG = "AWSMarketplace"
CONFIG = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})


def client(name):
    return boto3.client(
        name,
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id="AKIDBOTO3TEST",
        aws_secret_access_key="boto3-secret",
        config=CONFIG,
    )


def control(method, path, body=None, expect=(200, 201, 202, 204)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    assert status in expect, f"{method} {path}: {status} {text}"
    return json.loads(text) if text else None


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_code(error):
    return error.response["Error"]["Code"]


def emulator_now():
    return datetime.datetime.fromisoformat(control("GET", "/_souk/clock")["now"].replace("Z", "+00:00"))


def product(kind="saas", concurrent=False):
    code = unique("boto")
    control("POST", "/_souk/products", {
        "product_code": code, "kind": kind, "concurrent_agreements": concurrent,
        "dimensions": [
            {"name": "users", "type": "metered"},
            {"name": "gb", "type": "metered"},
            {"name": "seats", "type": "entitled"},
            {"name": "tier", "type": "entitled"},
        ],
    })
    return code


def subscribe(code, account=BUYER):
    return control("POST", "/_souk/subscribe", {"product_code": code, "customer_aws_account_id": account})


# ---------------------------------------------------------------------------------------------
# Metering
# ---------------------------------------------------------------------------------------------

def test_metering_resolve_customer():
    code = product()
    token = subscribe(code)["registration_token"]
    metering = client("meteringmarketplace")
    resolved = metering.resolve_customer(RegistrationToken=token)
    assert resolved["ProductCode"] == code
    assert resolved["CustomerAWSAccountId"] == BUYER
    assert resolved["CustomerIdentifier"]
    with pytest.raises(metering.exceptions.InvalidTokenException):
        metering.resolve_customer(RegistrationToken="not-a-token")


def test_metering_batch_meter_usage():
    code = product()
    subscribe(code)
    metering = client("meteringmarketplace")
    now = emulator_now()
    out = metering.batch_meter_usage(ProductCode=code, UsageRecords=[
        {"Timestamp": now, "CustomerAWSAccountId": BUYER, "Dimension": "users", "Quantity": 3},
        {"Timestamp": now, "CustomerAWSAccountId": "999999999999", "Dimension": "users", "Quantity": 1},
    ])
    statuses = sorted(r["Status"] for r in out["Results"])
    assert statuses == ["CustomerNotSubscribed", "Success"], out
    assert out["UnprocessedRecords"] == []
    with pytest.raises(metering.exceptions.InvalidProductCodeException):
        metering.batch_meter_usage(ProductCode="no-such-product", UsageRecords=[
            {"Timestamp": now, "CustomerAWSAccountId": BUYER, "Dimension": "users", "Quantity": 1}])
    with pytest.raises(metering.exceptions.InvalidUsageDimensionException):
        metering.batch_meter_usage(ProductCode=code, UsageRecords=[
            {"Timestamp": now, "CustomerAWSAccountId": BUYER, "Dimension": "seats", "Quantity": 1}])
    with pytest.raises(metering.exceptions.TimestampOutOfBoundsException):
        metering.batch_meter_usage(ProductCode=code, UsageRecords=[
            {"Timestamp": now - datetime.timedelta(hours=7), "CustomerAWSAccountId": BUYER, "Dimension": "users", "Quantity": 1}])


def test_metering_resolve_customer_metadata_agreement_id():
    code = product()
    subscription = subscribe(code)
    resolved = client("meteringmarketplace").resolve_customer(RegistrationToken=subscription["registration_token"])
    assert resolved["Metadata"]["AgreementId"] == subscription["subscription"]["agreement_id"]


def test_metering_decimal_quantities():
    code = product()
    subscribe(code)
    metering = client("meteringmarketplace")
    now = emulator_now()
    out = metering.batch_meter_usage(ProductCode=code, UsageRecords=[
        {"Timestamp": now, "CustomerAWSAccountId": BUYER, "Dimension": "users", "QuantityAsDecimal": "2.5",
         "UsageAllocations": [
             {"AllocatedUsageQuantityAsDecimal": "2", "Tags": [{"Key": "team", "Value": "a"}]},
             {"AllocatedUsageQuantityAsDecimal": "0.5", "Tags": [{"Key": "team", "Value": "b"}]}]},
    ])
    assert [r["Status"] for r in out["Results"]] == ["Success"], out
    ledger = control("GET", f"/_souk/metering/ledger?product_code={code}")
    assert ledger["total_quantity_decimal"] == "2.5"
    with pytest.raises(botocore.exceptions.ClientError) as both:
        metering.batch_meter_usage(ProductCode=code, UsageRecords=[
            {"Timestamp": now, "CustomerAWSAccountId": BUYER, "Dimension": "gb", "Quantity": 1, "QuantityAsDecimal": "2.5"}])
    assert error_code(both.value) == "ValidationException"
    ami = product(kind="ami")
    subscribe(ami)
    metered = metering.meter_usage(ProductCode=ami, Timestamp=now, UsageDimension="users", UsageQuantityAsDecimal="0.25")
    assert metered["MeteringRecordId"]


def test_metering_meter_usage():
    code = product(kind="ami")
    subscribe(code)
    metering = client("meteringmarketplace")
    now = emulator_now()
    first = metering.meter_usage(ProductCode=code, Timestamp=now, UsageDimension="users", UsageQuantity=2)
    assert first["MeteringRecordId"]
    again = metering.meter_usage(ProductCode=code, Timestamp=now, UsageDimension="users", UsageQuantity=2)
    assert again["MeteringRecordId"] == first["MeteringRecordId"]
    with pytest.raises(metering.exceptions.InvalidProductCodeException):
        metering.meter_usage(ProductCode="no-such-product", Timestamp=now, UsageDimension="users", UsageQuantity=1)


def test_metering_register_usage():
    code = product(kind="container")
    subscribe(code)
    metering = client("meteringmarketplace")
    out = metering.register_usage(ProductCode=code, PublicKeyVersion=1, Nonce=uuid.uuid4().hex)
    assert out["Signature"].count(".") == 2
    # Only present when the public key version has expired (model documentation).
    assert "PublicKeyRotationTimestamp" not in out
    with pytest.raises(metering.exceptions.InvalidPublicKeyVersionException):
        metering.register_usage(ProductCode=code, PublicKeyVersion=2)


# ---------------------------------------------------------------------------------------------
# Entitlement (boto3 speaks awsJson1_1 to it)
# ---------------------------------------------------------------------------------------------

def test_entitlement_get_entitlements():
    code = product()
    subscribe(code)
    control("POST", "/_souk/entitlements", {"product_code": code, "customer_aws_account_id": BUYER,
                                            "values": {"seats": 10, "tier": "gold"}})
    entitlement = client("marketplace-entitlement")
    out = entitlement.get_entitlements(ProductCode=code, Filter={"CUSTOMER_AWS_ACCOUNT_ID": [BUYER]})
    values = {e["Dimension"]: e["Value"] for e in out["Entitlements"]}
    assert values == {"seats": {"IntegerValue": 10}, "tier": {"StringValue": "gold"}}, out
    assert all(e["CustomerAWSAccountId"] == BUYER for e in out["Entitlements"])
    page = entitlement.get_entitlements(ProductCode=code, MaxResults=1)
    assert len(page["Entitlements"]) == 1 and page.get("NextToken")
    with pytest.raises(entitlement.exceptions.InvalidParameterException):
        entitlement.get_entitlements(ProductCode=code, MaxResults=26)


# ---------------------------------------------------------------------------------------------
# STS
# ---------------------------------------------------------------------------------------------

def test_sts_assume_role_with_external_id():
    role = f"arn:aws:iam::{SELLER}:role/{unique('souk')}"
    control("POST", "/_souk/sts/roles", {"role_arn": role, "external_id": "ext-123"})
    sts = client("sts")
    out = sts.assume_role(RoleArn=role, RoleSessionName="boto3-session", ExternalId="ext-123", DurationSeconds=900)
    credentials = out["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["SessionToken"]
    assert out["AssumedRoleUser"]["Arn"].endswith("/boto3-session")
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        sts.assume_role(RoleArn=role, RoleSessionName="boto3-session", ExternalId="wrong")
    assert error_code(denied.value) == "AccessDenied"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assumed = boto3.client("sts", endpoint_url=URL, region_name="us-east-1", config=CONFIG,
                           aws_access_key_id=credentials["AccessKeyId"],
                           aws_secret_access_key=credentials["SecretAccessKey"],
                           aws_session_token=credentials["SessionToken"])
    assert assumed.get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]


# ---------------------------------------------------------------------------------------------
# Catalog and Agreement
# ---------------------------------------------------------------------------------------------

REF = "$CreateOfferChange.Entity.Identifier"


def offer_change(change_type, details):
    return {"ChangeType": change_type, "Entity": {"Type": "Offer@1.0", "Identifier": REF}, "DetailsDocument": details}


def private_offer_changes(product_id, expiry):
    return [
        {"ChangeType": "CreateOffer", "Entity": {"Type": "Offer@1.0"}, "ChangeName": "CreateOfferChange",
         "DetailsDocument": {"ProductId": product_id}},
        offer_change("UpdateInformation", {"Name": "boto3 offer", "Description": "Private offer from boto3"}),
        offer_change("UpdateTargeting", {"PositiveTargeting": {"BuyerAccounts": [BUYER]}}),
        offer_change("UpdatePricingTerms", {"PricingModel": "Contract", "Terms": [
            {"Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [
                {"Selector": {"Type": "Duration", "Value": "P12M"},
                 "Constraints": {"MultipleDimensionSelection": "Allowed", "QuantityConfiguration": "Allowed"},
                 "RateCard": [{"DimensionKey": "seats", "Price": "100.00"}, {"DimensionKey": "tier", "Price": "250.00"}]}]},
            {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
             "RateCards": [{"RateCard": [{"DimensionKey": "users", "Price": "0.015"}]}]}]}),
        offer_change("UpdateSupportTerms", {"Terms": [{"Type": "SupportTerm", "RefundPolicy": "Full refund within 30 days."}]}),
        offer_change("UpdateRenewalTerms", {"Terms": [{"Type": "RenewalTerm"}]}),
        offer_change("UpdateLegalTerms", {"Terms": [{"Type": "LegalTerm", "Documents": [
            {"Type": "CustomEula", "Url": "https://s3.amazonaws.com/sample-bucket/custom-eula.pdf"}]}]}),
        offer_change("UpdateAvailability", {"AvailabilityEndDate": expiry}),
        offer_change("ReleaseOffer", {}),
    ]


def product_id(code):
    return control("GET", f"/_souk/products/{code}")["product_id"]


def advance(seconds):
    control("POST", "/_souk/clock/advance", {"seconds": seconds})


@pytest.fixture(scope="module")
def released_offer():
    code = product()
    prod = product_id(code)
    catalog = client("marketplace-catalog")
    expiry = (emulator_now() + datetime.timedelta(days=30)).strftime("%Y-%m-%d")
    started = catalog.start_change_set(Catalog=CATALOG, ChangeSet=private_offer_changes(prod, expiry))
    advance(10)
    described = catalog.describe_change_set(Catalog=CATALOG, ChangeSetId=started["ChangeSetId"])
    assert described["Status"] == "SUCCEEDED", described
    offer_id = described["ChangeSet"][0]["Entity"]["Identifier"]
    return {"code": code, "product_id": prod, "offer_id": offer_id, "change_set_id": started["ChangeSetId"]}


def test_catalog_start_and_describe_change_set(released_offer):
    catalog = client("marketplace-catalog")
    described = catalog.describe_change_set(Catalog=CATALOG, ChangeSetId=released_offer["change_set_id"])
    assert described["ChangeSetId"] == released_offer["change_set_id"]
    assert released_offer["offer_id"].startswith("offer-")
    with pytest.raises(catalog.exceptions.ResourceNotFoundException):
        catalog.describe_change_set(Catalog=CATALOG, ChangeSetId="cs-doesnotexist0000000000")
    with pytest.raises(catalog.exceptions.ValidationException):
        catalog.start_change_set(Catalog=CATALOG, ChangeSet=[{"ChangeType": "NoSuchChange", "Entity": {"Type": "Offer@1.0"},
                                                            "DetailsDocument": {}}])


def test_catalog_tags_resource_policies_and_unknown_operations(released_offer):
    catalog = client("marketplace-catalog")
    arn = catalog.describe_entity(Catalog=CATALOG, EntityId=released_offer["offer_id"])["EntityArn"]
    catalog.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "billing"}])
    assert catalog.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "billing"}]
    catalog.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert catalog.list_tags_for_resource(ResourceArn=arn)["Tags"] == []
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    catalog.put_resource_policy(ResourceArn=arn, Policy=policy)
    assert catalog.get_resource_policy(ResourceArn=arn)["Policy"] == policy
    catalog.delete_resource_policy(ResourceArn=arn)
    with pytest.raises(catalog.exceptions.ResourceNotFoundException):
        catalog.get_resource_policy(ResourceArn=arn)
    with pytest.raises(catalog.exceptions.ResourceNotFoundException):
        catalog.list_entities(Catalog="SomeOtherCatalog", EntityType="Offer")
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        catalog.describe_assessment(Catalog=CATALOG, AssessmentIdentifier="a-1")
    assert error_code(unknown.value) == "UnknownOperationException"


def test_catalog_list_and_cancel_change_sets(released_offer):
    catalog = client("marketplace-catalog")
    listed = catalog.list_change_sets(Catalog=CATALOG)
    assert any(c["ChangeSetId"] == released_offer["change_set_id"] for c in listed["ChangeSetSummaryList"])
    started = catalog.start_change_set(Catalog=CATALOG, ChangeSet=[
        {"ChangeType": "UpdateInformation", "Entity": {"Type": "Offer@1.0", "Identifier": released_offer["offer_id"]},
         "DetailsDocument": {"Name": "renamed", "Description": "renamed offer"}}])
    catalog.cancel_change_set(Catalog=CATALOG, ChangeSetId=started["ChangeSetId"])
    described = catalog.describe_change_set(Catalog=CATALOG, ChangeSetId=started["ChangeSetId"])
    assert described["Status"] == "CANCELLED", described


def test_catalog_describe_list_and_batch_describe_entities(released_offer):
    catalog = client("marketplace-catalog")
    entity = catalog.describe_entity(Catalog=CATALOG, EntityId=released_offer["offer_id"])
    assert entity["EntityType"] == "Offer@1.0"
    assert entity["DetailsDocument"]["State"] == "Released"
    listed = catalog.list_entities(Catalog=CATALOG, EntityType="Offer")
    assert any(e["EntityId"] == released_offer["offer_id"] for e in listed["EntitySummaryList"])
    batch = catalog.batch_describe_entities(EntityRequestList=[
        {"Catalog": CATALOG, "EntityId": released_offer["offer_id"]},
        {"Catalog": CATALOG, "EntityId": released_offer["product_id"]},
        {"Catalog": CATALOG, "EntityId": "offer-doesnotexist"}])
    assert set(batch["EntityDetails"]) == {released_offer["offer_id"], released_offer["product_id"]}
    assert "offer-doesnotexist" in batch["Errors"]
    with pytest.raises(catalog.exceptions.ResourceNotFoundException):
        catalog.describe_entity(Catalog=CATALOG, EntityId="offer-doesnotexist")


@pytest.fixture(scope="module")
def agreement(released_offer):
    accepted = control("POST", f"/_souk/offers/{released_offer['offer_id']}/accept",
                       {"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": 2}]})
    return accepted["id"]


def test_agreement_describe_agreement(agreement, released_offer):
    agreements = client("marketplace-agreement")
    out = agreements.describe_agreement(agreementId=agreement)
    assert out["agreementId"] == agreement
    assert out["status"] == "ACTIVE"
    assert out["acceptor"]["accountId"] == BUYER
    assert out["proposer"]["accountId"] == SELLER
    assert out["proposalSummary"]["offerId"] == released_offer["offer_id"]
    with pytest.raises(agreements.exceptions.ResourceNotFoundException):
        agreements.describe_agreement(agreementId="agmt-doesnotexist000000000000")


def test_agreement_get_agreement_terms(agreement):
    agreements = client("marketplace-agreement")
    out = agreements.get_agreement_terms(agreementId=agreement)
    kinds = {next(iter(term)) for term in out["acceptedTerms"]}
    assert {"configurableUpfrontPricingTerm", "usageBasedPricingTerm"} <= kinds, kinds


def test_agreement_search_agreements(agreement):
    agreements = client("marketplace-agreement")
    out = agreements.search_agreements(catalog=CATALOG, filters=[
        {"name": "PartyType", "values": ["Proposer"]},
        {"name": "AgreementType", "values": ["PurchaseAgreement"]},
        {"name": "AcceptorAccountId", "values": [BUYER]}])
    assert any(a["agreementId"] == agreement for a in out["agreementViewSummaries"])
    with pytest.raises(agreements.exceptions.ValidationException):
        agreements.search_agreements(catalog=CATALOG, filters=[{"name": "AgreementType", "values": ["PurchaseAgreement"]}])


# ---------------------------------------------------------------------------------------------
# SQS (botocore sends awsJson1_0 with the query-compatible error header)
# ---------------------------------------------------------------------------------------------

def test_sqs_create_get_url_and_attributes():
    sqs = client("sqs")
    name = unique("boto3-q")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    assert url.endswith(f"/{SELLER}/{name}")
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:{SELLER}:{name}"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["VisibilityTimeout"] == "5"
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=unique("missing"))
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "6"})


def test_sqs_send_receive_change_visibility_delete():
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("boto3-msgs"))["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello from boto3",
                            MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello from boto3").hexdigest()
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
    message = received["Messages"][0]
    assert message["Body"] == "hello from boto3"
    assert message["MessageAttributes"]["kind"]["StringValue"] == "greeting"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None, "in flight"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert again["MessageId"] == message["MessageId"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                    "ApproximateNumberOfMessagesNotVisible"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    with pytest.raises(sqs.exceptions.MessageNotInflight):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=10)
    with pytest.raises(botocore.exceptions.ClientError) as too_many:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert error_code(too_many.value) == "InvalidParameterValue"


def test_sqs_long_polling():
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("boto3-poll"))["QueueUrl"]
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    assert time.monotonic() - started >= 0.9


# ---------------------------------------------------------------------------------------------
# SNS notifications delivered to SQS, and data feeds over S3
# ---------------------------------------------------------------------------------------------

def test_sns_subscription_notification_reaches_sqs():
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("boto3-sns"))["QueueUrl"]
    code = product()
    control("POST", "/_souk/notifications/subscriptions", {
        "type": "sns", "protocol": "sqs", "endpoint": url, "product_code": code,
        "topics": ["subscription"], "signature_version": "2"})
    subscribe(code)
    bodies = []
    for _ in range(90):
        bodies += [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])]
        if bodies:
            break
    envelope = json.loads(bodies[0])
    assert envelope["Type"] == "Notification"
    assert envelope["SignatureVersion"] == "2"
    assert envelope["TopicArn"].endswith(f":aws-mp-subscription-notification-{code}")
    message = json.loads(envelope["Message"])
    assert message["action"] == "subscribe-success"
    assert message["product-code"] == code
    assert message["isFreeTrialTermPresent"] in ("true", "false")
    with urllib.request.urlopen(envelope["SigningCertURL"], timeout=120) as cert:
        assert b"BEGIN CERTIFICATE" in cert.read()


def test_s3_list_and_get_data_feeds():
    report = control("POST", "/_souk/feeds/generate")
    bucket = report["bucket"]
    s3 = client("s3")
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="billing_event_v1/")
    keys = [o["Key"] for o in listed["Contents"]]
    assert keys and all(k.startswith("billing_event_v1/year=") and k.endswith("/data.csv") for k in keys)
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
    assert body.startswith('"valid_from","insert_date","update_date","delete_date","billing_event_id"')
    head = s3.head_object(Bucket=bucket, Key=keys[0])
    assert head["ContentLength"] == len(body.encode())
    paginator = s3.get_paginator("list_objects_v2")
    all_keys = [o["Key"] for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}) for o in page.get("Contents", [])]
    assert len(all_keys) == len(set(all_keys)) >= 10
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="billing_event_v1/missing.csv")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="not-the-feed-bucket")
