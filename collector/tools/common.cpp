// shared helpers of the tools
