//! AWS's `ErrorDetailList` as a message a seller can act on: each error with the change that
//! earned it, and for the codes whose fix is not obvious, what to do.

use super::ports::ChangeError;

/// What to do about an AWS error code, where AWS's own message does not say.
fn advice(code: &str) -> Option<&'static str> {
    Some(match code {
        "INCOMPATIBLE_PRODUCT" => {
            "check the product id and its dimension keys, and that the product is Limited or Public and belongs to this seller account"
        }
        "INCOMPATIBLE_AGREEMENT" => {
            "check that the agreement is active and was made by this seller"
        }
        "INVALID_CHARGE_DATES" | "TOO_MANY_BACKDATED_CHARGES" => {
            "fix the payment schedule's dates and create the offer again (CloneOffer)"
        }
        "INCOMPATIBLE_CURRENCY_CODE" | "INVALID_CURRENCY_CODE" => {
            "use one currency for every amount, USD for usage prices"
        }
        "INVALID_LEGAL_DOCUMENTS" => {
            "use a reachable https URL or a supported standard EULA version"
        }
        "MISSING_AGREEMENT_END_DATE" => "give the replacement offer an agreement end date",
        "TOO_MANY_OFFERS" => "the product already has a public offer of this kind",
        _ => return None,
    })
}

/// One line per error: `CODE in ChangeType: message (advice)`.
pub fn readable(description: &str, errors: &[ChangeError]) -> String {
    if errors.is_empty() {
        return format!("AWS refused the change set: {description}");
    }
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            let mut line = format!("{} in {}: {}", e.code, e.change_type, e.message);
            if let Some(advice) = advice(&e.code) {
                line.push_str(&format!(" ({advice})"));
            }
            line
        })
        .collect();
    format!("AWS refused the offer: {}", lines.join("; "))
}

/// The distinct codes, comma-separated (the offer's `failure_code`).
pub fn codes(errors: &[ChangeError], fallback: &str) -> String {
    let mut codes: Vec<&str> = Vec::new();
    for e in errors {
        if !codes.contains(&e.code.as_str()) {
            codes.push(&e.code);
        }
    }
    if codes.is_empty() {
        fallback.to_owned()
    } else {
        codes.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_actionable_message() {
        let errors = vec![
            ChangeError {
                change_type: "UpdatePaymentScheduleTerms".into(),
                code: "INVALID_CHARGE_DATES".into(),
                message: "Provide a first charge date that isn't in the past.".into(),
            },
            ChangeError {
                change_type: "ReleaseOffer".into(),
                code: "MISSING_NAME".into(),
                message: "Provide a Name for the offer.".into(),
            },
        ];
        assert_eq!(
            readable("", &errors),
            "AWS refused the offer: INVALID_CHARGE_DATES in UpdatePaymentScheduleTerms: Provide a first charge date that isn't in the past. (fix the payment schedule's dates and create the offer again (CloneOffer)); MISSING_NAME in ReleaseOffer: Provide a Name for the offer."
        );
        assert_eq!(
            codes(&errors, "CLIENT_ERROR"),
            "INVALID_CHARGE_DATES,MISSING_NAME"
        );
        assert_eq!(codes(&[], "SERVER_FAULT"), "SERVER_FAULT");
    }
}
