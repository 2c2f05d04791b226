package io.flightdelay.nifi.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

import org.apache.nifi.authentication.AuthenticationResponse;
import org.apache.nifi.authentication.LoginCredentials;
import org.apache.nifi.authentication.LoginIdentityProvider;
import org.apache.nifi.authentication.LoginIdentityProviderConfigurationContext;
import org.apache.nifi.authentication.LoginIdentityProviderInitializationContext;
import org.apache.nifi.authentication.exception.InvalidLoginCredentialsException;
import org.apache.nifi.authentication.exception.ProviderCreationException;

/**
 * Accepts exactly one user name and password; the password is stored only as a PBKDF2 hash.
 *
 * <p>Properties in login-identity-providers.xml:
 * <ul>
 *   <li>{@code Username}: the user's name, also its identity for the authorizer;</li>
 *   <li>{@code Password Hash}: {@code pbkdf2-sha512$<iterations>$<salt, base64>$<key, base64>},
 *       the PBKDF2-HMAC-SHA512 key of the password (Python: {@code hashlib.pbkdf2_hmac});</li>
 *   <li>{@code Expiration}: lifetime of an access token in minutes (default 720).</li>
 * </ul>
 */
public class SingleUserLoginProvider implements LoginIdentityProvider {

    private static final String PREFIX = "pbkdf2-sha512";
    private static final long DEFAULT_EXPIRATION_MINUTES = 720;

    private String issuer;
    private byte[] username;
    private String identity;
    private int iterations;
    private byte[] salt;
    private byte[] key;
    private long expirationMillis;

    @Override
    public void initialize(final LoginIdentityProviderInitializationContext context) {
        issuer = context.getIdentifier();
    }

    @Override
    public void onConfigured(final LoginIdentityProviderConfigurationContext context) {
        identity = required(context, "Username");
        username = identity.getBytes(StandardCharsets.UTF_8);
        final String[] hash = required(context, "Password Hash").split("\\$");
        if (hash.length != 4 || !PREFIX.equals(hash[0])) {
            throw new ProviderCreationException("Password Hash must look like " + PREFIX + "$ITERATIONS$SALT$KEY");
        }
        try {
            iterations = Integer.parseInt(hash[1]);
            salt = Base64.getDecoder().decode(hash[2]);
            key = Base64.getDecoder().decode(hash[3]);
        } catch (final IllegalArgumentException e) {
            throw new ProviderCreationException("Password Hash is not valid: " + e.getMessage(), e);
        }
        final String expiration = context.getProperty("Expiration");
        final long minutes = expiration == null || expiration.isBlank()
                ? DEFAULT_EXPIRATION_MINUTES : Long.parseLong(expiration.trim());
        expirationMillis = TimeUnit.MINUTES.toMillis(minutes);
    }

    @Override
    public AuthenticationResponse authenticate(final LoginCredentials credentials) {
        final byte[] givenUser = String.valueOf(credentials.getUsername()).getBytes(StandardCharsets.UTF_8);
        final char[] givenPassword = String.valueOf(credentials.getPassword()).toCharArray();
        // always derive, so a wrong user name takes as long as a wrong password
        final boolean keyMatches = MessageDigest.isEqual(key, pbkdf2(givenPassword));
        final boolean userMatches = MessageDigest.isEqual(username, givenUser);
        if (!keyMatches || !userMatches) {
            throw new InvalidLoginCredentialsException("Username or password not valid");
        }
        return new AuthenticationResponse(identity, identity, expirationMillis, issuer);
    }

    @Override
    public void preDestruction() {
        // nothing to release
    }

    private byte[] pbkdf2(final char[] password) {
        try {
            final PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, key.length * 8);
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA512").generateSecret(spec).getEncoded();
        } catch (final GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA512 is not available", e);
        }
    }

    private static String required(final LoginIdentityProviderConfigurationContext context, final String name) {
        final String value = context.getProperty(name);
        if (value == null || value.isBlank()) {
            throw new ProviderCreationException("property '" + name + "' is required");
        }
        return value.trim();
    }
}
