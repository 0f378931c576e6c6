using System.Diagnostics;
using System.Security.Cryptography;

namespace ArchLab.Data;

/// <summary>An npm package tarball pinned by name, version and its registry <c>sha512-…</c> integrity string.</summary>
public sealed record NpmPackage(string Name, string Version, string Integrity)
{
    public string FileName => $"{Name.TrimStart('@').Replace('/', '-')}-{Version}.tgz";

    public string TarballUrl(string registry) =>
        $"{registry.TrimEnd('/')}/{Name}/-/{Name.Split('/')[^1]}-{Version}.tgz";
}

/// <summary>
/// Downloads an npm package tarball into a cache folder once, verifying its pinned sha512.
/// First choice is <c>npm pack name@version</c> (honours the user's npm registry/proxy configuration);
/// if npm is missing or fails, a plain HTTP GET from the registry (npm_config_registry, else registry.npmjs.org).
/// The download lands in a private temporary folder and is renamed into place only after verification,
/// so concurrent first use from two processes cannot leave a corrupt file behind.
/// </summary>
public static class NpmTarball
{
    public const string DefaultRegistry = "https://registry.npmjs.org";

    /// <summary>Returns the path of the verified tarball in <paramref name="cacheDir"/>, downloading it if needed.</summary>
    public static string Fetch(NpmPackage package, string cacheDir, TextWriter? log = null)
    {
        Directory.CreateDirectory(cacheDir);
        string target = Path.Combine(cacheDir, package.FileName);
        if (File.Exists(target) && Verify(target, package.Integrity)) return target;

        string tempDir = Path.Combine(cacheDir, $".download.{Environment.ProcessId}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(tempDir);
        try
        {
            string downloaded = TryNpmPack(package, tempDir, log) ?? HttpGet(package, tempDir, log);
            if (!Verify(downloaded, package.Integrity))
                throw new InvalidDataException(
                    $"Downloaded {package.Name}@{package.Version} does not match the pinned integrity {package.Integrity} ({downloaded}).");
            File.Move(downloaded, target, overwrite: true);
            return target;
        }
        finally
        {
            Directory.Delete(tempDir, recursive: true);
        }
    }

    /// <summary>True when the file's SHA-512 matches an npm integrity string (<c>sha512-&lt;base64&gt;</c>).</summary>
    public static bool Verify(string path, string integrity)
    {
        const string prefix = "sha512-";
        if (!integrity.StartsWith(prefix, StringComparison.Ordinal))
            throw new ArgumentException($"Only sha512 integrity strings are supported, got '{integrity}'.");
        using var stream = File.OpenRead(path);
        return Convert.ToBase64String(SHA512.HashData(stream)) == integrity[prefix.Length..];
    }

    static string? TryNpmPack(NpmPackage package, string tempDir, TextWriter? log)
    {
        var psi = new ProcessStartInfo("npm")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = tempDir,
        };
        foreach (string arg in new[] { "pack", $"{package.Name}@{package.Version}", "--pack-destination", tempDir, "--silent" })
            psi.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                log?.WriteLine("npm pack timed out; falling back to HTTP.");
                return null;
            }
            string file = Path.Combine(tempDir, package.FileName);
            if (process.ExitCode == 0 && File.Exists(file)) return file;
            log?.WriteLine($"npm pack failed (exit {process.ExitCode}): {stderr.Result.Trim()} {stdout.Result.Trim()}; falling back to HTTP.");
            return null;
        }
        catch (System.ComponentModel.Win32Exception e) // npm not installed
        {
            log?.WriteLine($"npm not available ({e.Message}); falling back to HTTP.");
            return null;
        }
    }

    static string HttpGet(NpmPackage package, string tempDir, TextWriter? log)
    {
        string registry = Environment.GetEnvironmentVariable("npm_config_registry") is { Length: > 0 } r ? r : DefaultRegistry;
        string url = package.TarballUrl(registry);
        log?.WriteLine($"Downloading {url}");
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var response = http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        string file = Path.Combine(tempDir, package.FileName);
        using (var output = File.Create(file))
            response.Content.ReadAsStream().CopyTo(output);
        return file;
    }
}
