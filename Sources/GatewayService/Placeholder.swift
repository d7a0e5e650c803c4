public enum _PlaceholderGatewayService {}
