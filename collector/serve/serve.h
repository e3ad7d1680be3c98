#pragma once

namespace bt::collector::serve {

// `buildtrail-collector serve --listen ADDR:PORT --data DIR [--tls-cert F
// --tls-key F [--client-ca F]]`
int run(int argc, char** argv);

}  // namespace bt::collector::serve
