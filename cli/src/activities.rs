//! `sfn-callback activities`: list, describe, create and delete activities.

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
    let rows: Vec<[String; 3]> = rows
        .into_iter()
        .map(|(name, arn, created)| [name, arn, created])
        .collect();
    let text = crate::table::aligned(["NAME", "ARN", "CREATED"], &rows);
    Ok(text.trim_end().to_owned())
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
