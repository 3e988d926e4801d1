//! `sfn-callback activities`: list, describe, create and delete activities.

use std::fmt::Write as _;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};

use crate::failure::Failure;

/// Every activity with its ARN and creation date, one per line, aligned.
pub async fn list(sfn: &Client, page_size: i32) -> Result<String, Failure> {
    let rows: Vec<_> = sfn
        .list_activities()
        .max_results(page_size)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| Failure::of("ListActivities", &err))?
        .iter()
        .map(|activity| {
            (
                activity.name().to_owned(),
                activity.activity_arn().to_owned(),
                date(activity.creation_date()),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok("No activities.".to_owned());
    }
    let name_width = rows.iter().map(|row| row.0.len()).max().unwrap_or(0).max(4);
    let arn_width = rows.iter().map(|row| row.1.len()).max().unwrap_or(0).max(3);
    let mut out = format!("{:<name_width$}  {:<arn_width$}  CREATED", "NAME", "ARN");
    for (name, arn, created) in rows {
        let _ = write!(out, "\n{name:<name_width$}  {arn:<arn_width$}  {created}");
    }
    Ok(out)
}

/// One activity's name, ARN and creation date.
pub async fn describe(sfn: &Client, arn: &str) -> Result<String, Failure> {
    let described = sfn
        .describe_activity()
        .activity_arn(arn)
        .send()
        .await
        .map_err(|err| Failure::of(format!("DescribeActivity of {arn}"), &err))?;
    Ok(format!(
        "name: {}\narn: {}\ncreated: {}",
        described.name(),
        described.activity_arn(),
        date(described.creation_date())
    ))
}

/// Creates the activity (or finds the one of that name); prints its ARN.
pub async fn create(sfn: &Client, name: &str) -> Result<String, Failure> {
    let created = sfn
        .create_activity()
        .name(name)
        .send()
        .await
        .map_err(|err| Failure::of(format!("CreateActivity {name}"), &err))?;
    Ok(created.activity_arn().to_owned())
}

/// Deletes the activity.
pub async fn delete(sfn: &Client, arn: &str) -> Result<String, Failure> {
    sfn.delete_activity()
        .activity_arn(arn)
        .send()
        .await
        .map_err(|err| Failure::of(format!("DeleteActivity of {arn}"), &err))?;
    Ok(format!("deleted {arn}"))
}

fn date(date: &DateTime) -> String {
    date.fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| date.secs().to_string())
}
