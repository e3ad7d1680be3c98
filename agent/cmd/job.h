// `buildtrail-agent job begin|end`: what CI hooks run to tell the daemon
// where a job starts and ends (agent/route/job_protocol.h). Attribution does not
// depend on it; it sharpens a job's boundaries into one build record.
#pragma once

namespace bt::agent::job {

int main(int argc, char** argv);

}  // namespace bt::agent::job
