//! Members and errors the newer AWS models declare, as the official SDK clients see them.

use crate::support::*;

#[tokio::test]
async fn resolve_customer_returns_the_agreement_id_in_metadata() {
    let env = env().await;
    seed(&env.emu.url).await;
    let sub = subscribe(&env.emu.url, PRODUCT, BUYER).await;
    let token = sub["registration_token"].as_str().unwrap_or_default();
    let out = env
        .metering
        .resolve_customer()
        .registration_token(token)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let agreement = sub["subscription"]["agreement_id"]
        .as_str()
        .unwrap_or_default();
    assert!(!agreement.is_empty(), "{sub}");
    assert_eq!(
        out.metadata().and_then(|m| m.agreement_id()),
        Some(agreement)
    );
}

mod catalog_and_agreement {
    use aws_sdk_marketplaceagreement::operation::describe_agreement::DescribeAgreementError;
    use aws_sdk_marketplaceagreement::operation::get_agreement_terms::GetAgreementTermsError;
    use aws_sdk_marketplaceagreement::types::ValidationExceptionReason;
    use aws_sdk_marketplacecatalog::operation::describe_entity::DescribeEntityError;
    use aws_sdk_marketplacecatalog::operation::list_entities::ListEntitiesError;
    use aws_sdk_marketplacecatalog::types::Tag;
    use aws_sdk_marketplacemetering::operation::register_usage::RegisterUsageError;
    use serde_json::{Value, json};

    use crate::service_error;
    use crate::support::catalog::*;
    use crate::support::{BUYER, control_ok, raw};

    #[tokio::test]
    async fn agreement_errors_carry_their_modelled_members() {
        let cat = setup().await;
        // rpcv2Cbor through the Rust SDK.
        let err = service_error!(
            cat.agreement
                .describe_agreement()
                .agreement_id("agmt-missing")
                .send()
                .await,
            404,
            DescribeAgreementError::ResourceNotFoundException(_)
        );
        let DescribeAgreementError::ResourceNotFoundException(missing) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(missing.resource_id(), Some("agmt-missing"));
        assert_eq!(
            missing.resource_type().map(|t| t.as_str()),
            Some("Agreement")
        );
        assert!(missing.request_id().is_some_and(|id| !id.is_empty()));

        let err = service_error!(
            cat.agreement
                .get_agreement_terms()
                .agreement_id("x".repeat(65))
                .send()
                .await,
            400,
            GetAgreementTermsError::ValidationException(_)
        );
        let GetAgreementTermsError::ValidationException(invalid) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            invalid.reason(),
            Some(&ValidationExceptionReason::InvalidAgreementId)
        );
        assert_eq!(invalid.fields()[0].name(), "agreementId");
        assert!(invalid.request_id().is_some());

        // awsJson1_0 on the wire, with the same request id in the header.
        let response = raw(
            cat.url(),
            "POST",
            "/",
            &[
                ("content-type", "application/x-amz-json-1.0"),
                (
                    "x-amz-target",
                    "AWSMPCommerceService_v20200301.SearchAgreements",
                ),
            ],
            br#"{"filters":[{"name":"AgreementType","values":["PurchaseAgreement"]}]}"#,
        )
        .await;
        assert_eq!(response.status, 400);
        let body = response.json();
        assert_eq!(body["reason"], "MISSING_PARTY_TYPE", "{body}");
        assert_eq!(body["fields"][0]["name"], "filters");
        assert_eq!(
            body["requestId"].as_str(),
            response.header("x-amzn-RequestId")
        );
    }

    #[tokio::test]
    async fn get_agreement_terms_access_denied_and_validation() {
        let cat = setup().await;
        let foreign = "444455556666";
        let product = catalog_product(
            &cat,
            json!({ "title": "Theirs", "seller_account_id": foreign }),
        )
        .await;
        assert!(!product.is_empty());
        // An agreement of another seller: planted directly, as AWS would hold it.
        let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
        let agreement = accept(&cat, &offer, json!({ "buyer_account_id": BUYER })).await;
        let id = agreement["id"].as_str().unwrap_or_default().to_owned();
        {
            let mut world = cat.env.emu.emulator.world();
            if let Some(a) = world.agreements.agreements.get_mut(&id) {
                a.proposer_account_id = foreign.to_owned();
                a.manufacturer_account_id = foreign.to_owned();
            }
        }
        let err = service_error!(
            cat.agreement
                .get_agreement_terms()
                .agreement_id(&id)
                .send()
                .await,
            403,
            GetAgreementTermsError::AccessDeniedException(_)
        );
        assert!(format!("{err:?}").contains(&id));
        {
            let mut world = cat.env.emu.emulator.world();
            if let Some(a) = world.agreements.agreements.get_mut(&id) {
                a.proposer_account_id = "111122223333".to_owned();
                a.manufacturer_account_id = "111122223333".to_owned();
            }
        }
        service_error!(
            cat.agreement
                .get_agreement_terms()
                .agreement_id(&id)
                .max_results(0)
                .send()
                .await,
            400,
            GetAgreementTermsError::ValidationException(_)
        );
    }

    #[tokio::test]
    async fn list_entities_of_an_unknown_catalog_is_not_found() {
        let cat = setup().await;
        service_error!(
            cat.catalog
                .list_entities()
                .catalog("SomeOtherCatalog")
                .entity_type("Offer")
                .send()
                .await,
            404,
            ListEntitiesError::ResourceNotFoundException(_)
        );
        // A malformed name stays a validation error.
        service_error!(
            cat.catalog
                .list_entities()
                .catalog("not a catalog!")
                .entity_type("Offer")
                .send()
                .await,
            422,
            ListEntitiesError::ValidationException(_)
        );
    }

    #[tokio::test]
    async fn describe_entity_validates_its_input() {
        let cat = setup().await;
        service_error!(
            cat.catalog
                .describe_entity()
                .catalog("Elsewhere")
                .entity_id("prod-x")
                .send()
                .await,
            422,
            DescribeEntityError::ValidationException(_)
        );
        let response = raw(
            cat.url(),
            "GET",
            "/DescribeEntity?catalog=AWSMarketplace",
            &[],
            b"",
        )
        .await;
        assert_eq!(response.status, 422, "{}", response.text());
        assert_eq!(
            response.header("x-amzn-ErrorType"),
            Some("ValidationException")
        );
    }

    #[tokio::test]
    async fn control_api_products_have_their_creation_date() {
        let cat = setup().await;
        let out = describe_entity(&cat, &cat.saas)
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        let modified = out.last_modified_date().unwrap_or_default();
        assert!(!modified.starts_with("1970"), "{modified}");
        let now = cat.env.emu.emulator.clock().now().year();
        assert!(modified.starts_with(&now.to_string()), "{modified}");
    }

    #[tokio::test]
    async fn catalog_tags_and_resource_policies() {
        let cat = setup().await;
        let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
        let arn = describe_entity(&cat, &offer)
            .await
            .unwrap_or_else(|err| panic!("{err:?}"))
            .entity_arn()
            .unwrap_or_default()
            .to_owned();
        let tag = |k: &str, v: &str| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .unwrap_or_else(|err| panic!("{err}"))
        };
        cat.catalog
            .tag_resource()
            .resource_arn(&arn)
            .tags(tag("team", "billing"))
            .tags(tag("env", "test"))
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        cat.catalog
            .untag_resource()
            .resource_arn(&arn)
            .tag_keys("env")
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        let listed = cat
            .catalog
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        let tags: Vec<(&str, &str)> = listed.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert_eq!(tags, [("team", "billing")]);

        let missing = arn.replace(&offer, "offer-doesnotexist");
        let err = cat
            .catalog
            .list_tags_for_resource()
            .resource_arn(&missing)
            .send()
            .await;
        assert!(service_error!(err, 404).is_resource_not_found_exception());

        let policy = json!({"Version": "2012-10-17", "Statement": []}).to_string();
        let err = cat
            .catalog
            .get_resource_policy()
            .resource_arn(&arn)
            .send()
            .await;
        assert!(service_error!(err, 404).is_resource_not_found_exception());
        cat.catalog
            .put_resource_policy()
            .resource_arn(&arn)
            .policy(&policy)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        let got = cat
            .catalog
            .get_resource_policy()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!(got.policy(), Some(policy.as_str()));
        let err = cat
            .catalog
            .put_resource_policy()
            .resource_arn(&arn)
            .policy("not json")
            .send()
            .await;
        assert!(service_error!(err, 422).is_validation_exception());
        cat.catalog
            .delete_resource_policy()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        let err = cat
            .catalog
            .get_resource_policy()
            .resource_arn(&arn)
            .send()
            .await;
        assert!(service_error!(err, 404).is_resource_not_found_exception());
    }

    #[tokio::test]
    async fn unknown_operations_are_unknown_operation_exceptions_in_their_protocol() {
        let cat = setup().await;
        // A catalog operation the emulator does not serve (GET-bound, so it used to reach S3).
        let err = cat
            .catalog
            .describe_assessment()
            .catalog(CATALOG)
            .assessment_identifier("a-1")
            .send()
            .await;
        let err = service_error!(err, 400);
        assert_eq!(
            aws_sdk_marketplacecatalog::error::ProvideErrorMetadata::code(&err),
            Some("UnknownOperationException")
        );
        let response = raw(cat.url(), "GET", "/GetSomething?x=1", &[], b"").await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.header("x-amzn-ErrorType"),
            Some("UnknownOperationException")
        );
        assert!(response.json()["Message"].is_string());
        for target in [
            "AWSMPMeteringService.NoSuchOperation",
            "AWSMPCommerceService_v20200301.NoSuchOperation",
        ] {
            let response = raw(
                cat.url(),
                "POST",
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", target),
                ],
                b"{}",
            )
            .await;
            assert_eq!(response.status, 400, "{target}");
            assert_eq!(
                response.json()["__type"],
                "UnknownOperationException",
                "{target}"
            );
        }
    }

    #[tokio::test]
    async fn catalog_faults_and_denials_hit_every_operation() {
        let cat = setup().await;
        let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
        let change_set = start(&cat, json!([create_offer(&cat.saas)])).await;
        for (operation, kind, status) in [
            ("DescribeEntity", "throttle", 429),
            ("DescribeChangeSet", "server_error", 500),
            ("ListChangeSets", "throttle", 429),
            ("BatchDescribeEntities", "server_error", 500),
            ("CancelChangeSet", "throttle", 429),
            ("ListTagsForResource", "server_error", 500),
        ] {
            crate::support::fault_once_in(cat.url(), "catalog", operation, kind).await;
            let code = match operation {
                "DescribeEntity" => describe_entity(&cat, &offer).await.err().and_then(|e| {
                    e.raw_response().map(|r| r.status().as_u16())
                }),
                "DescribeChangeSet" => cat
                    .catalog
                    .describe_change_set()
                    .catalog(CATALOG)
                    .change_set_id(&change_set)
                    .send()
                    .await
                    .err()
                    .and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                "ListChangeSets" => cat
                    .catalog
                    .list_change_sets()
                    .catalog(CATALOG)
                    .send()
                    .await
                    .err()
                    .and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                "BatchDescribeEntities" => cat
                    .catalog
                    .batch_describe_entities()
                    .entity_request_list(
                        aws_sdk_marketplacecatalog::types::EntityRequest::builder()
                            .catalog(CATALOG)
                            .entity_id(&offer)
                            .build()
                            .unwrap_or_else(|err| panic!("{err}")),
                    )
                    .send()
                    .await
                    .err()
                    .and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                "CancelChangeSet" => cat
                    .catalog
                    .cancel_change_set()
                    .catalog(CATALOG)
                    .change_set_id(&change_set)
                    .send()
                    .await
                    .err()
                    .and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                _ => cat
                    .catalog
                    .list_tags_for_resource()
                    .resource_arn(format!(
                        "arn:aws:aws-marketplace:us-east-1:111122223333:AWSMarketplace/Offer/{offer}"
                    ))
                    .send()
                    .await
                    .err()
                    .and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
            };
            assert_eq!(code, Some(status), "{operation} {kind}");
        }

        // Denials through an assumed role, beyond StartChangeSet.
        let role = "arn:aws:iam::111122223333:role/SoukReader";
        control_ok(
            cat.url(),
            "POST",
            "/_souk/sts/roles",
            json!({ "role_arn": role, "trusted_account": "123456789012" }),
        )
        .await;
        control_ok(
            cat.url(),
            "POST",
            "/_souk/sts/roles/deny",
            json!({ "role_arn": role, "actions": ["aws-marketplace:DescribeEntity", "aws-marketplace:ListEntities", "aws-marketplace:GetAgreementTerms"] }),
        )
        .await;
        let out = cat
            .env
            .sts
            .assume_role()
            .role_arn(role)
            .role_session_name("reader")
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        let creds = crate::support::session_credentials(
            out.credentials()
                .unwrap_or_else(|| panic!("no credentials")),
        );
        let catalog = catalog_client_with(cat.url(), creds.clone());
        let denied = catalog
            .describe_entity()
            .catalog(CATALOG)
            .entity_id(&offer)
            .send()
            .await;
        assert!(service_error!(denied, 403).is_access_denied_exception());
        let denied = catalog
            .list_entities()
            .catalog(CATALOG)
            .entity_type("Offer")
            .send()
            .await;
        assert!(service_error!(denied, 403).is_access_denied_exception());
        let agreement = agreement_client_with(cat.url(), creds);
        let denied = agreement
            .get_agreement_terms()
            .agreement_id("agmt-any")
            .send()
            .await;
        service_error!(
            denied,
            403,
            GetAgreementTermsError::AccessDeniedException(_)
        );
    }

    #[tokio::test]
    async fn register_usage_in_a_disabled_home_region_is_disabled_api() {
        let env = crate::support::env().await;
        control_ok(
            &env.emu.url,
            "POST",
            "/_souk/products",
            json!({ "product_code": "prod-ctr-dis", "kind": "container",
                    "dimensions": [{"name": "hosts", "type": "metered"}] }),
        )
        .await;
        crate::support::subscribe(&env.emu.url, "prod-ctr-dis", BUYER).await;
        control_ok(
            &env.emu.url,
            "POST",
            "/_souk/regions/disable",
            json!({ "region": "us-east-1" }),
        )
        .await;
        service_error!(
            env.metering
                .register_usage()
                .product_code("prod-ctr-dis")
                .public_key_version(1)
                .send()
                .await,
            400,
            RegisterUsageError::DisabledApiException(_)
        );
        let _ = Value::Null;
    }
}
