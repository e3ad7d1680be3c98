// Secret-access rules: which file paths are credentials, and which network
// endpoints are cloud metadata services. Paths are matched after the
// capture layer resolved them to absolute paths, so a credential opened by a
// relative path (cd ~/.aws && cat credentials) is found too.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/markdown.h"
#include "common/result.h"

namespace bt::agent::secrets {

struct Rule {
  std::string name;          // e.g. "aws-credentials"
  std::string secret_class;  // cloud, container_registry, kubernetes, package_registry, vcs,
                             // ssh_key, gpg_key, ci_runner (the classes of docs/events.md)
  std::string pattern;       // glob; "/..." matches the whole absolute path, otherwise the
                             // path's last components (".aws/credentials" matches any home);
                             // "!glob" excludes paths from the other patterns of the same name
};

// The built-in rules (documented in docs/secret-rules.md).
const std::vector<Rule>& default_rules();

// The rules' patterns (the capture's open filters take these).
std::vector<std::string> patterns(const std::vector<Rule>& rules);

// Rules from text, one per line: "<name> <class> <pattern>"; '#' comments.
// Errors name the line.
Result<std::vector<Rule>> parse_rules(std::string_view text);

class Matcher {
 public:
  explicit Matcher(std::vector<Rule> rules);
  // Cheap filter on the last path component: false means no rule can match
  // a path ending in `basename`, so the caller need not resolve the path.
  bool may_match(std::string_view basename) const;
  // The first rule matching `absolute_path`, or null. Rows sharing a name form
  // one rule: a path matches it when one of its patterns matches and none of
  // its "!" exclusions does.
  const Rule* match(std::string_view absolute_path) const;

  const std::vector<Rule>& rules() const { return rules_; }

 private:
  struct Compiled {
    std::size_t rule = 0;        // index into rules_
    std::size_t group = 0;       // same for every row of one rule name
    bool exclude = false;        // "!pattern": removes matches of its group
    bool absolute = false;       // glob over the whole path
    std::size_t components = 0;  // relative: how many trailing components
    std::string glob;            // the pattern without '!'
  };
  // A basename glob with its literal ends, checked before fnmatch so most
  // basenames are rejected with two compares.
  struct BasenameGlob {
    std::string glob, prefix, suffix;
    bool one_star = false;  // glob == prefix + "*" + suffix: no fnmatch needed
  };
  bool matches(const Compiled& c, const std::string& path) const;
  bool excluded(std::size_t group, const std::string& path) const;

  std::vector<Rule> rules_;
  std::vector<Compiled> compiled_;              // one per rule, same order
  std::vector<std::string> literal_basenames_;  // sorted
  std::vector<BasenameGlob> glob_basenames_;
};

// Cloud metadata endpoints: 169.254.169.254, fd00:ec2::254 and
// metadata.google.internal by default (the full list is
// default_metadata_endpoints()), plus `extra` (host names or IPs).
class MetadataEndpoints {
 public:
  explicit MetadataEndpoints(std::vector<std::string> extra = {});
  bool is_metadata_address(std::string_view ip) const;  // textual IPv4/IPv6
  bool is_metadata_host(std::string_view host) const;   // DNS name, case-insensitive
  // The endpoint, as listed, that a connect to `ip` matches: by the address,
  // else by `host`, the name the build resolved to it (may be empty). Null
  // when none.
  const std::string* matching(std::string_view ip, std::string_view host) const;
  const std::vector<std::string>& all() const { return endpoints_; }

 private:
  std::vector<std::string> endpoints_;
  std::vector<std::string> addresses_;   // canonical IP text (inet_ntop)
  std::vector<std::string> hosts_;       // lower case, no trailing dot
  std::vector<std::size_t> address_of_;  // endpoints_ index of each of addresses_
  std::vector<std::size_t> host_of_;     // endpoints_ index of each of hosts_
};

struct MetadataEndpoint {
  std::string_view endpoint;  // IP or DNS name
  std::string_view what;      // the service behind it, for the docs
};
const std::vector<MetadataEndpoint>& default_metadata_endpoints();

// The parts of docs/secret-rules.md generated from default_rules(), the
// endpoints and attribution::known_runners().
std::vector<markdown::Part> reference_parts();

}  // namespace bt::agent::secrets
