//! The loopback fakes `scripts/loadtest` runs the release binary against: a fake CloudTrail
//! (empty, answering at once) and a fake Slack (`response_url` and the Web API, answering at
//! once), from `tests/it/common`. Prints one line, `cloudtrail=URL slack=URL`, then serves until
//! killed. Everything the fakes receive is kept in memory, in this process, not the app's.

// The integration tests' fakes; this program uses only part of what they offer.
#[allow(dead_code)]
#[path = "../tests/it/common/fake_aws.rs"]
mod fake_aws;
#[allow(dead_code)]
#[path = "../tests/it/common/fake_slack.rs"]
mod fake_slack;
#[allow(dead_code)]
#[path = "../tests/it/common/fake_socket.rs"]
mod fake_socket;

use std::io::Write;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cloudtrail = fake_aws::FakeAws::start().await;
    let slack = fake_slack::FakeSlack::start().await;
    println!("cloudtrail={} slack={}", cloudtrail.url, slack.url);
    std::io::stdout()
        .flush()
        .expect("stdout is the script's pipe");
    std::future::pending::<()>().await;
}
