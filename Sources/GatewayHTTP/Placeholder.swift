public enum _PlaceholderGatewayHTTP {}
