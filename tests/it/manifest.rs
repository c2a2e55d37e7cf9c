//! What ships in `manifest/`: the Slack app manifest against Slack's own JSON Schemas, and the
//! app's IAM policy and the EventBridge template against what the app needs.

use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn yaml(path: &str) -> Value {
    yaml_serde::from_str(&read(path)).unwrap()
}

fn slack_manifest() -> Value {
    yaml("manifest/slack-app.yaml")
}

/// The Socket Mode variant: no request URLs, `socket_mode_enabled`.
fn socket_mode_manifest() -> Value {
    yaml("manifest/slack-app-socket-mode.yaml")
}

#[test]
fn the_slack_manifests_are_valid_against_slacks_schemas() {
    for (name, manifest) in [
        ("slack-app.yaml", slack_manifest()),
        ("slack-app-socket-mode.yaml", socket_mode_manifest()),
    ] {
        valid_against_both_schemas(name, &manifest);
    }
}

fn valid_against_both_schemas(name: &str, manifest: &Value) {
    for version in ["1.0.0", "2.0.0"] {
        let schema: Value = serde_json::from_str(&read(&format!(
            "tests/vendor/slack-manifest.schema.{version}.json"
        )))
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(manifest)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}, schema {version}: {errors:#?}");
    }
}

#[test]
fn the_schema_check_would_catch_a_broken_manifest() {
    let schema: Value =
        serde_json::from_str(&read("tests/vendor/slack-manifest.schema.2.0.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut broken = slack_manifest();
    broken["features"]["slash_commands"][0]["command"] = Value::String("no-slash".into());
    broken["oauth_config"]["scopes"]["bot"] = Value::String("commands".into());
    assert!(!validator.is_valid(&broken));
}

#[test]
fn the_manifest_declares_what_the_app_uses() {
    let m = slack_manifest();
    let command = &m["features"]["slash_commands"][0];
    assert_eq!(command["command"], "/marketplace-activity");
    assert!(command["url"]
        .as_str()
        .unwrap()
        .ends_with("/slack/commands"));
    // Every part of the grammar (domain::USAGE), so the hint Slack shows as people type is
    // the whole command.
    let hint = command["usage_hint"].as_str().unwrap();
    for part in [
        "24h",
        "7d",
        "90d",
        "since ",
        "..",
        "all",
        "purchases",
        "cancellations",
        "agmt-",
        "account:",
        "csv",
        "share",
        "help",
    ] {
        assert!(hint.contains(part), "usage_hint lacks {part:?}: {hint}");
    }
    for word in ["account:", "csv", "share", "all"] {
        assert!(
            marketplace_activity::domain::USAGE.contains(word),
            "the usage and the hint name the same parts: {word}"
        );
    }
    let scopes: Vec<&str> = m["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for needed in ["commands", "chat:write", "files:write"] {
        assert!(scopes.contains(&needed), "{needed} in {scopes:?}");
    }
    let interactivity = &m["settings"]["interactivity"];
    assert_eq!(interactivity["is_enabled"], true, "buttons are answered");
    assert!(interactivity["request_url"]
        .as_str()
        .unwrap()
        .ends_with("/slack/interactions"));
}

#[test]
fn the_socket_mode_manifest_is_the_same_app_without_request_urls() {
    let (http, socket) = (slack_manifest(), socket_mode_manifest());
    assert_eq!(socket["settings"]["socket_mode_enabled"], true);
    assert_eq!(http["settings"]["socket_mode_enabled"], false);
    let command = &socket["features"]["slash_commands"][0];
    assert!(command.get("url").is_none(), "Socket Mode: no request URL");
    let interactivity = &socket["settings"]["interactivity"];
    assert_eq!(interactivity["is_enabled"], true, "buttons are answered");
    assert!(interactivity.get("request_url").is_none());
    // Everything else is the HTTP manifest's: same command, scopes and display information.
    let mut expected = http.clone();
    expected["settings"]["socket_mode_enabled"] = Value::Bool(true);
    expected["features"]["slash_commands"][0]
        .as_object_mut()
        .unwrap()
        .remove("url");
    expected["settings"]["interactivity"]
        .as_object_mut()
        .unwrap()
        .remove("request_url");
    assert_eq!(socket, expected);
}

#[test]
fn the_iam_policy_is_least_privilege() {
    let policy: Value = serde_json::from_str(&read("manifest/iam-policy.json")).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let mut actions: Vec<&str> = statements
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(a) => a.iter().map(|a| a.as_str().unwrap()).collect(),
            _ => vec![],
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "aws-marketplace:DescribeAgreement",
            "aws-marketplace:GetAgreementTerms",
            "aws-marketplace:SearchAgreements",
            "cloudtrail:LookupEvents",
            "organizations:ListAccounts",
            "sts:AssumeRole"
        ],
        "exactly what the app calls: reads, listing the organization's accounts, and assuming the member accounts' read role"
    );
    assert!(statements.iter().all(|s| s["Effect"] == "Allow"));
    let assume = statements
        .iter()
        .find(|s| s["Action"] == "sts:AssumeRole")
        .unwrap();
    assert_ne!(
        assume["Resource"], "*",
        "only the member accounts' read role can be assumed"
    );
}

#[test]
fn the_state_table_policy_is_the_stores_calls_on_one_table() {
    let policy: Value =
        serde_json::from_str(&read("manifest/iam-policy-state-table.json")).unwrap();
    let statement = &policy["Statement"][0];
    let actions: Vec<&str> = statement["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:DescribeTable",
            "dynamodb:DescribeTimeToLive"
        ],
        "every write is a conditional UpdateItem; no PutItem, Scan or Query"
    );
    assert!(statement["Resource"]
        .as_str()
        .unwrap()
        .contains(":table/marketplace-activity-state"));
}

#[test]
fn the_template_routes_both_families_with_retries_and_a_dead_letter_queue() {
    // CloudFormation's short-form tags (!Ref, !GetAtt) are YAML tags; serde_yaml keeps them.
    let t: yaml_serde::Value = yaml_serde::from_str(&read("manifest/eventbridge.yaml")).unwrap();
    let resources = t["Resources"].as_mapping().unwrap();
    let mut patterns = Vec::new();
    for (_, r) in resources {
        if r["Type"] == "AWS::Events::Rule" {
            let pattern = serde_json::to_value(&r["Properties"]["EventPattern"]).unwrap();
            patterns.push(pattern);
            let target = &r["Properties"]["Targets"][0];
            assert_eq!(target["RetryPolicy"]["MaximumEventAgeInSeconds"], 86400);
            assert!(!target["DeadLetterConfig"]["Arn"].is_null());
        }
    }
    assert!(patterns
        .iter()
        .any(|p| p["detail"]["eventSource"][0] == "agreement-marketplace.amazonaws.com"));
    assert!(patterns
        .iter()
        .any(|p| p["source"][0] == "aws.agreement-marketplace"));
    let connection = resources
        .values()
        .find(|r| r["Type"] == "AWS::Events::Connection")
        .unwrap();
    assert_eq!(connection["Properties"]["AuthorizationType"], "API_KEY");
}

#[test]
fn the_queue_template_routes_both_families_to_an_encrypted_queue_only_they_may_write() {
    let t: yaml_serde::Value =
        yaml_serde::from_str(&read("manifest/eventbridge-sqs.yaml")).unwrap();
    let resources = t["Resources"].as_mapping().unwrap();
    let kind = |name: &str| resources[name]["Type"].as_str().unwrap().to_owned();
    assert_eq!(kind("EventsQueue"), "AWS::SQS::Queue");
    let queue = &resources["EventsQueue"]["Properties"];
    assert_eq!(queue["SqsManagedSseEnabled"].as_bool(), Some(true));
    assert!(
        !queue["RedrivePolicy"]["deadLetterTargetArn"].is_null(),
        "a dead-letter queue"
    );
    let rules: Vec<&yaml_serde::Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Events::Rule")
        .collect();
    assert_eq!(rules.len(), 2, "both families");
    let policy = format!(
        "{:?}",
        resources["EventsQueuePolicy"]["Properties"]["PolicyDocument"]
    );
    for rule in ["CloudTrailCallsRule", "MarketplaceEventsRule"] {
        assert!(policy.contains(rule), "only the rules may send: {policy}");
    }
    assert_eq!(kind("DeadLetterAlarm"), "AWS::CloudWatch::Alarm");
}

/// Organization-wide notifications: each member account forwards exactly the two families the
/// app's own rules match, to the central bus, with a role that may only put events there; the
/// central bus admits only the organization's accounts and its rules deliver like the others.
#[test]
fn member_accounts_forward_both_families_to_a_bus_only_the_organization_may_use() {
    let member: yaml_serde::Value =
        yaml_serde::from_str(&read("manifest/org-event-forwarding.yaml")).unwrap();
    let central: yaml_serde::Value =
        yaml_serde::from_str(&read("manifest/eventbridge.yaml")).unwrap();
    let rules = |t: &yaml_serde::Value| -> Vec<(String, serde_json::Value, yaml_serde::Value)> {
        t["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
            .map(|(name, r)| {
                (
                    name.as_str().unwrap().to_owned(),
                    serde_json::to_value(&r["Properties"]["EventPattern"]).unwrap(),
                    r.clone(),
                )
            })
            .collect()
    };
    let forwarded = rules(&member);
    assert_eq!(forwarded.len(), 2, "both families");
    let central_rules = rules(&central);
    for (name, pattern, rule) in &forwarded {
        assert!(
            central_rules
                .iter()
                .filter(|(n, _, _)| n.starts_with("Organization"))
                .any(|(_, p, r)| p == pattern && r["Condition"] == "ForOrganization"),
            "{name}: the central bus has a rule for what is forwarded"
        );
        assert!(
            central_rules
                .iter()
                .any(|(n, p, _)| !n.starts_with("Organization") && p == pattern),
            "{name}: the same pattern as the app account's own rule"
        );
        let target = &rule["Properties"]["Targets"][0];
        assert!(format!("{:?}", target["Arn"]).contains("CentralEventBusArn"));
        assert!(format!("{:?}", target["RoleArn"]).contains("ForwardRole"));
    }
    let role = &member["Resources"]["ForwardRole"]["Properties"];
    let statement = &role["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Action"], "events:PutEvents");
    assert!(format!("{:?}", statement["Resource"]).contains("CentralEventBusArn"));
    assert_eq!(role["Policies"].as_sequence().unwrap().len(), 1);

    let policy = &central["Resources"]["CentralEventBusPolicy"]["Properties"]["Statement"];
    assert_eq!(policy["Action"], "events:PutEvents");
    assert!(
        format!(
            "{:?}",
            policy["Condition"]["StringEquals"]["aws:PrincipalOrgID"]
        )
        .contains("OrganizationId"),
        "only the organization's accounts may send"
    );
    let member_role: yaml_serde::Value =
        yaml_serde::from_str(&read("manifest/member-account-role.yaml")).unwrap();
    assert!(
        format!(
            "{:?}",
            member_role["Resources"]["MarketplaceActivityRead"]["Properties"]["RoleName"]
        )
        .contains("RoleName"),
        "the role's name is the MEMBER_ROLE_NAME parameter"
    );
}
